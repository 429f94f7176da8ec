"""The results of `bpcli.trace(...)` and `bpcli.gradcheck(...)` (bpcli/notebook.py) as the CLI
shows them: plain text of 100 columns (a terminal's `repr`) or Jupyter's HTML, through the
commands' own Rich renderers."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

TEXT_WIDTH = 100
_PRE = ('<pre style="font-family: Menlo, \'DejaVu Sans Mono\', consolas, monospace; '
        'font-size: 12px; line-height: 1.3">{code}</pre>')


def _render(kind: str, result: Any, console: Console) -> None:
    """Draw one result: kind "gradcheck" (a TargetReport), "trace" (a TraceReport) or
    "tensor_trace" (a TensorTraceReport)."""
    if kind == "gradcheck":
        from bpcli.render.gradcheck import render_rich
    elif kind == "tensor_trace":
        from bpcli.render.trace_tensor_rich import render_tensor_rich as render_rich
    else:
        from bpcli.render.trace_rich import render_rich
    render_rich(result, console)


def _console(**options) -> Console:
    return Console(file=io.StringIO(), record=True, width=TEXT_WIDTH, highlight=False, soft_wrap=False, **options)


def as_text(kind: str, result: Any) -> str:
    """What the CLI prints when piped (plain text, 100 columns)."""
    console = _console(color_system=None)
    _render(kind, result, console)
    return console.export_text()


def as_html(kind: str, result: Any) -> str:
    """The CLI's colored output as inline-styled HTML."""
    console = _console(color_system="truecolor")
    _render(kind, result, console)
    return console.export_html(inline_styles=True, code_format=_PRE)
