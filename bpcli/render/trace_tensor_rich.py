"""`bpcli trace` with vectors and matrices as Rich output: shapes, values, every VJP.

Numbers are words to Rich, so wrapping never cuts one; everything fits 60 columns and up.
"""

from __future__ import annotations

import math

import numpy as np
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from bpcli.expr.tensor_ops import shape_text
from bpcli.expr.tensor_trace import Jacobian, TensorTraceReport
from bpcli.render.trace_numbers import num, precise, short_role

SHOWN_ENTRIES = 12  # a tensor with more entries is shown as its shape and min / mean / max
ROW_LIMIT = 200


def tensor_text(value, limit: int = SHOWN_ENTRIES, number=num) -> str:
    """Small tensors as numbers ([1 -2.50 3], one row per line), larger as min / mean / max."""
    array = np.asarray(value)
    if array.ndim == 0:
        return number(float(array))
    if array.size <= limit and array.ndim <= 2:
        if array.ndim == 1:
            return "[" + " ".join(number(float(v)) for v in array) + "]"
        rows = ["[" + " ".join(number(float(v)) for v in row) + "]" for row in array]
        return "[" + "\n ".join(rows) + "]"
    if array.size == 0:
        return "(empty)"
    return f"min {number(float(np.min(array)))} mean {number(float(np.mean(array)))} max {number(float(np.max(array)))}"


def labeled(prefix: str, text: str) -> str:
    """`prefix` + a multi-line tensor text, its later rows lined up under the first."""
    return prefix + text.replace("\n", "\n" + " " * len(prefix))


def _shape(value) -> str:
    return shape_text(np.shape(value))


def _header(report: TensorTraceReport) -> Group:
    lines = [Text.assemble(("f = ", "bold"), report.expression)]
    for name, value in report.inputs.items():
        kind = " (labels)" if name in report.labels else ""
        style = "cyan" if name in report.drawn else ""
        drawn = f" drawn (--seed {report.seed})" if name in report.drawn else ""
        lines.append(Text(labeled(f"{name}{kind} {_shape(value)}{drawn} = ", tensor_text(value)), style=style))
    gates = sum(1 for n in report.graph.nodes if n.inputs)
    mode = "expanded into primitive gates (--expand)" if report.expanded else "fused gates"
    lines.append(Text(f"{len(report.graph):,} nodes, {gates:,} gate{'s' if gates != 1 else ''}, {mode}; "
                      "vectors and matrices in float64",
                      style="dim"))
    return Group(*lines)


def forward_table(report: TensorTraceReport) -> Table:
    graph = report.graph
    table = Table(title="Forward pass (topological order)", box=box.SIMPLE_HEAD, title_justify="left",
                  pad_edge=False)
    table.add_column("node", no_wrap=True)
    table.add_column("gate", no_wrap=True)
    table.add_column("inputs")
    table.add_column("shape", no_wrap=True)
    table.add_column("value")
    for node in graph.nodes[:ROW_LIMIT]:
        gate = "input" if node.op == "var" else ("const" if node.op == "const" else graph.gate_label(node.id))
        inputs = ", ".join(graph.label(c) for c in node.inputs)
        value = report.values[node.id]
        shown = Text("(above)", style="dim") if node.op == "var" else Text(tensor_text(value))
        table.add_row(graph.label(node.id), gate, inputs, _shape(value), shown,
                      style="bold" if node.id == graph.output else None)
    if len(graph) > ROW_LIMIT:
        table.caption = f"⋮ {len(graph) - ROW_LIMIT:,} more nodes (--format json lists all)"
        table.caption_justify = "left"
    return table


def jacobian_text(gate: str, target: str, jacobian: Jacobian) -> str:
    """`∂n3/∂W: 3×(3×4) = 36 entries, 9 nonzero; not formed` (and the cost when it is big)."""
    out = "×".join(map(str, jacobian.out_shape)) or "1"
    into = "×".join(map(str, jacobian.in_shape)) or "1"
    if len(jacobian.out_shape) > 1:
        out = f"({out})"
    if len(jacobian.in_shape) > 1:
        into = f"({into})"
    entries = "1 entry" if jacobian.entries == 1 else f"{jacobian.entries:,} entries"
    text = f"∂{gate}/∂{target}: {out}×{into} = {entries}, {jacobian.nonzeros:,} nonzero"
    if jacobian.matrix is not None:
        return text + "; formed below (--jacobian)"
    if jacobian.entries >= 1_000_000:
        text += f"; forming it would take {_millions(jacobian.entries)} entries, {_megabytes(jacobian.entries * 4)} in float32"
    return text + "; not formed"


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f} million" if n < 1e9 else f"{n / 1e9:.1f} billion"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n < 1e9 else f"{n / 1e9:,.1f} GB"


def backward_blocks(report: TensorTraceReport) -> list:
    """One block per gate: upstream, then per input the VJP used, its value, the Jacobian never
    formed, the shape check, and `+=` where a tensor feeds two gates."""
    graph = report.graph
    blocks: list = [Text("Backward pass (reverse order): each input gets the vector-Jacobian product "
                         "of the upstream gradient dout", style="bold")]
    seed_note = "given by --dout" if report.dout_given else (
        "ones: f is not a scalar, so this traces the gradient of sum(f)" if np.size(report.output) > 1 else "1"
    )
    blocks.append(Text(f"upstream of f {_shape(report.output)}: {seed_note}", style="dim"))
    for step in report.steps[:ROW_LIMIT]:
        gate = graph.label(step.node)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=1, no_wrap=True)
        grid.add_column(ratio=1)
        head = Text(f"{gate} {graph.gate_label(step.node)}", style="bold")
        head.append(f"  {short_role(graph, step.node)}", style="cyan")
        upstream = f"  dout {_shape(step.upstream)} = "
        indent = " " * (len(head.plain) + len(upstream))
        head.append(upstream + tensor_text(step.upstream).replace("\n", "\n" + indent))
        blocks.append(Text(""))
        blocks.append(head)
        if not step.inputs:
            blocks.append(Text("  (constants only)", style="dim"))
        for s in step.inputs:
            target = graph.label(s.node)
            expected = _shape(report.values[s.node])
            mark = "✓" if s.shape_ok else "✗"
            body = Text(s.formula, style="bold")
            body.append("\n" + labeled("= ", tensor_text(s.sent)))
            body.append(f"\nshape of d{target} {_shape(s.sent)} = shape of {target} {expected} {mark}",
                        style="green" if s.shape_ok else "bold red")
            body.append("\n" + jacobian_text(gate, target, s.jacobian), style="dim")
            if s.jacobian.matrix is not None:
                body.append("\n" + labeled("J = ", tensor_text(s.jacobian.matrix, limit=64)))
                body.append(f"\nJᵀ·dout = VJP: max rel. difference {s.jacobian.max_error:.1e} "
                            f"{'✓' if s.jacobian.max_error <= 1e-5 else '✗'}")
            elif report.jacobian_limit is not None:
                body.append(f"\nlarger than --jacobian-limit {report.jacobian_limit:,}: not formed", style="dim")
            if s.accumulated:
                body.append("\n" + labeled(f"{target} += this (a fork) → ", tensor_text(s.total)), style="bold magenta")
            grid.add_row("", body)
        blocks.append(grid)
    if len(report.steps) > ROW_LIMIT:
        blocks.append(Text(f"⋮ {len(report.steps) - ROW_LIMIT:,} more gates (--format json lists all)"))
    return blocks


def roles_legend(report: TensorTraceReport) -> Text:
    graph = report.graph
    labels_of_role: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.inputs:
            labels = labels_of_role.setdefault(graph.role(node.id), [])
            label = graph.gate_label(node.id)
            if label not in labels:
                labels.append(label)
    text = Text("Gate roles: ", style="dim")
    text.append("; ".join(f"{', '.join(labels)} {role}" for role, labels in labels_of_role.items()), style="dim")
    if any(" = Σ " in s.formula for step in report.steps for s in step.inputs):
        text.append(". An input a gate broadcast (stretched along an axis) gets the gradient summed "
                    "over that axis (Σ): the VJP of broadcasting.", style="dim")
    return text


def gradients_table(report: TensorTraceReport) -> Table:
    """One row per variable: its shape and how its gradient compares with central differences
    (the gradients themselves follow, one block each, so no number is squeezed into a cell)."""
    table = Table(title="Gradients: backprop vs central differences", box=box.SIMPLE_HEAD,
                  title_justify="left", pad_edge=False)
    table.add_column("variable", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("entries checked", justify="right")
    table.add_column("rel. error", justify="right", no_wrap=True)
    table.add_column("check", no_wrap=True)
    checks = {c.name: c for c in report.checks} if report.checks is not None else {}
    uses = report.uses
    for name, grad in report.gradients.items():
        label = name + (f" (×{uses[name]}, summed)" if uses[name] > 1 else "")
        check = checks.get(name)
        if check is None:
            table.add_row(label, _shape(grad), "—", "—", "skipped")
            continue
        style = {"ok": "green", "kink": "yellow"}.get(check.status, "bold red")
        checked = f"{len(check.indices)} of {np.size(grad):,}" + (" (seeded)" if check.sampled else "")
        rel = f"{check.rel_error:.1e}" if math.isfinite(check.rel_error) else "nan"
        table.add_row(label, _shape(grad), checked, rel, Text(check.status, style=style))
    for name in sorted(report.labels):
        table.add_row(name, _shape(report.inputs[name]), "labels: no gradient", "", "")
    return table


def gradient_values(report: TensorTraceReport) -> list[Text]:
    """∂f/∂v of every variable, six significant digits (numbers when small, else min/mean/max)."""
    return [Text(labeled(f"∂f/∂{name} = ", tensor_text(grad, number=precise)))
            for name, grad in report.gradients.items()]


def render_tensor_rich(report: TensorTraceReport, console: Console) -> None:
    """Print the whole tensor trace to `console`."""
    console.print(_header(report))
    console.print(forward_table(report))
    if report.steps:
        for block in backward_blocks(report):
            console.print(block)
        console.print(roles_legend(report))
    f = report.output
    console.print(Text(labeled(f"f = {_shape(f)} ", tensor_text(f, number=precise)), style="bold"))
    if report.gradients or report.labels:
        console.print(gradients_table(report))
        for line in gradient_values(report):
            console.print(line)
    if any(c.status == "kink" for c in report.checks or ()):
        console.print(Text("kink: a relu/abs/max/min gate sits at (or within h of) its corner here, so the "
                           "one-sided derivatives differ and the central difference averages them.",
                           style="yellow"))
    for note in report.notes:
        console.print(Text(note, style="dim"))
