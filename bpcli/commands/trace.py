"""`bpcli trace EXPR [NAME=VALUE ...]`: an expression's graph, forward and every backward step."""

# No `from __future__ import annotations`: Typer would evaluate every annotation string of
# this signature on each start-up (typing.get_type_hints compiles each one).
import sys
from pathlib import Path
from typing import List, Optional

import typer

from bpcli.commands.common import check_format, handles_errors, split_assignments
from bpcli.commands.options_errors import reject_unknown_options

TRACE_FORMATS = ("rich", "json", "dot")
EXPORT_SUFFIXES = (".svg", ".html")


@handles_errors
def trace_command(
    expression: str = typer.Argument(
        ..., help='The expression, quoted: "(x+y)*z"; @FILE reads it from a file, - from stdin.'
    ),
    assignments: Optional[List[str]] = typer.Argument(
        None,
        metavar="[NAME=VALUE]...",
        help="Values of variables; unset ones are drawn with --seed.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for the values of variables given no value."),
    expand: bool = typer.Option(
        False,
        "--expand",
        help="Show sigmoid, tanh, softmax and logsumexp as their primitive gates (*-1, exp, +1, 1/x, ...).",
    ),
    fmt: str = typer.Option(
        "rich", "--format", "-f", help="rich (tables; plain text when piped), json or dot."
    ),
    export: Optional[Path] = typer.Option(
        None,
        "--export",
        help="Also draw the circuit: FILE.svg (a picture for slides) or FILE.html (a page that "
        "steps through the backward pass).",
    ),
    export_tables: Optional[Path] = typer.Option(
        None, "--export-tables", help="Also save the terminal tables as FILE.svg or FILE.html."
    ),
    dout: Optional[str] = typer.Option(
        None, "--dout", help="Upstream gradient of a non-scalar f (default ones: the gradient of sum(f))."
    ),
    jacobian: bool = typer.Option(
        False, "--jacobian", help="Form each gate's Jacobian when small and check Jᵀ·dout = VJP."
    ),
    jacobian_limit: int = typer.Option(
        4096, "--jacobian-limit", help="Largest Jacobian (entries) --jacobian forms.", min=1, max=1_000_000
    ),
) -> None:
    """Trace an expression: its graph, forward pass and every backward step.

    Each gate of the backward pass shows the upstream gradient, each input's local gradient
    with its formula, the product sent down and the += where a variable is used twice. The
    final table checks every gradient against a central difference. Exit 1 when a value or
    gradient is nan or inf (a warning names the gate); exit 2 on a bad expression or value.

    Vectors and matrices: give a value as a list ([1,2,3], [[1,2],[3,4]]), a seeded
    constructor (randn(3,4), rand, zeros, ones, eye(3), arange(4)) or a file (@W.npy,
    @X.csv). Then @ is the matrix product, x.T the transpose, sum/mean/max(x, axis=1)
    reduce, S[y] picks one entry per row, softmax and logsumexp work on the last axis;
    each gate shows its shapes and the vector-Jacobian product it uses.

    \b
    Examples:
      bpcli trace "(x+y)*z" x=-2 y=5 z=-4
      bpcli trace "1/(1+exp(-(w0*x0+w1*x1+w2)))" w0=2 x0=-1 w1=-3 x1=-2 w2=-3
      bpcli trace "sigmoid(w*x+b)" --expand --seed 3
      bpcli trace "x*x*y" x=3 y=2 --format json
      bpcli trace "max(x,y)*z" --format dot > graph.dot
      bpcli trace "3*(a+b*c)" a=5 b=4 c=2 --export circuit.svg
      bpcli trace "x*x*y" x=3 y=2 --export trace.html   (step through backward)
      bpcli trace "(x+y)*z" --export-tables tables.svg
      bpcli trace @big_expression.txt x=1 --format json   (too long for the command line)
      bpcli trace "W2@max(0, W1@x)" "W1=randn(4,3)" "W2=randn(2,4)" "x=[1,0,2]"
      bpcli trace "mean(logsumexp(X@W+b) - (X@W+b)[y])" "X=randn(5,3)" "W=randn(3,4)" \\
          "b=zeros(4)" "y=[0,1,2,3,0]"
      bpcli trace "max(0, x)" "x=randn(4096)"
      bpcli trace "x*y" "x=[1,2]" "y=[[3],[4]]" --jacobian
    """
    check_format(fmt, TRACE_FORMATS)
    for option, path in (("--export", export), ("--export-tables", export_tables)):
        if path is not None and path.suffix.lower() not in EXPORT_SUFFIXES:
            from bpcli.errors import UsageError

            raise UsageError(f"{option} must end in .svg or .html, got '{path.name}'")
    reject_unknown_options(assignments or [])
    pairs = split_assignments(assignments or [])
    expression = _read_expression(expression)

    from bpcli.expr.report import trace_expression

    report = trace_expression(
        expression, pairs, seed=seed, expand=expand, dout=dout,
        jacobian_limit=jacobian_limit if jacobian else None,
    )
    tensor = getattr(report, "tensor", False)

    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if fmt == "json":
        from bpcli.render.trace_json import render_json, render_tensor_json

        sys.stdout.write((render_tensor_json if tensor else render_json)(report) + "\n")
    elif fmt == "dot":
        from bpcli.render.trace_dot import render_dot, render_tensor_dot

        sys.stdout.write((render_tensor_dot if tensor else render_dot)(report))
    if export is not None:
        _export_circuit(report, export)
    if fmt == "rich" or export_tables is not None:
        _render_rich(report, to_stdout=fmt == "rich", export=export_tables)
    if report.warnings:
        raise typer.Exit(1)


def _read_expression(argument: str) -> str:
    """The expression itself, or the text of @FILE or stdin ('-') without surrounding
    whitespace (at most MAX_CHARS + 1 characters read)."""
    from bpcli.errors import UsageError
    from bpcli.expr.parse import MAX_CHARS

    if argument == "-":
        return sys.stdin.read(MAX_CHARS + 1).strip()
    if argument.startswith("@"):
        path = Path(argument[1:])
        try:
            with path.open(encoding="utf-8") as handle:
                return handle.read(MAX_CHARS + 1).strip()
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(
                f"cannot read the expression from {path}: {getattr(err, 'strerror', None) or err}"
            ) from None
    return argument


def _export_circuit(report, path: Path) -> None:
    """The lecture's circuit as a picture (.svg) or a page to step through (.html)."""
    if path.suffix.lower() == ".svg":
        from bpcli.render.circuit import layout_circuit
        from bpcli.render.circuit_svg import render_svg

        text = render_svg(layout_circuit(report))
    else:
        from bpcli.render.trace_html import render_html

        text = render_html(report)
    _write(path, text)


def _write(path: Path, text: str) -> None:
    from bpcli.errors import UsageError

    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    print(f"saved {path}", file=sys.stderr)


def _render_rich(report, *, to_stdout: bool, export: Optional[Path]) -> None:
    import io

    from bpcli.commands.common import make_console
    from bpcli.render.trace_rich import render_rich

    if to_stdout:
        console = make_console(record=export is not None)
    else:
        from rich.console import Console

        console = Console(file=io.StringIO(), record=True, width=100)
    if getattr(report, "tensor", False):
        from bpcli.render.trace_tensor_rich import render_tensor_rich

        render_tensor_rich(report, console)
    else:
        render_rich(report, console)
    if export is not None:
        if export.suffix.lower() == ".svg":
            import re

            from rich._export_format import CONSOLE_SVG_FORMAT

            # Rich's template loads its font from a CDN: keep the local font and the fallback only
            offline = re.sub(r"@font-face \{\{.*?\}\}\s*", "", CONSOLE_SVG_FORMAT, flags=re.S)
            text = console.export_svg(
                title=f"bpcli trace {report.expression[:60]}", code_format=offline
            )
        else:
            text = console.export_html()
        _write(export, text)
