"""`bpcli gradcheck` output: a Rich table per objective, hints, kinks, the h sweep, a verdict;
or the public JSON document (keys fixed by DESIGN.md). Never computes a gradient.

Non-finite numbers are written in JSON as the strings "nan", "inf", "-inf" (as `trace` does).
"""

from __future__ import annotations

import json
import math
from typing import Any, Optional

STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "small": "dim", "kink": "cyan",
                "nonfinite": "bold red", "zero": "dim"}
KINK_NOTE = ("kinks: the step crosses a kink there, where the centered difference means nothing; "
             "the analytic value is judged against the one-sided derivatives on either side "
             "(between them: a valid subgradient; when one step moves several kinks at once it is "
             "not judged)")


def _number(value: Optional[float]) -> Any:
    if value is None or math.isfinite(value):
        return value
    return "nan" if value != value else ("inf" if value > 0 else "-inf")


def _index(index: Any) -> Any:
    if isinstance(index, tuple):
        return [int(i) for i in index]
    return index


def _index_text(index: Any) -> str:
    if index is None:
        return "—"
    if index == ():
        return "()"
    if isinstance(index, tuple):
        return "[" + ", ".join(str(int(i)) for i in index) + "]"
    return str(index)


def _g(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.5g}"


def _err(value: float) -> str:
    return "—" if value is None else ("inf" if value == math.inf else f"{value:.1e}")


def check_document(check, objective_label: str) -> dict:
    return {
        "name": check.name,
        "objective": objective_label,
        "shape": list(check.shape),
        "entries": check.entries,
        "max_rel_error": _number(check.max_rel_error),
        "status": check.status,
        "worst_index": _index(check.worst_index),
        "analytic": _number(check.analytic),
        "numeric": _number(check.numeric),
        "kinks": check.kinks,
        "small": check.small,
        "hints": list(check.hints),
        "kink_details": [{"index": _index(i), "sites": k.to_dict(), "words": k.describe()}
                         for i, k in check.kink_details],
        "one_sided": None if check.one_sided is None else [_number(v) for v in check.one_sided],
        "precision": _number(check.precision),
    }


def gradcheck_document(result) -> dict:
    """The JSON document: passed, mode, checks [...] and more."""
    report = result.report
    sweep = next((o.sweep for o in report.objectives if o.sweep is not None), None)
    doc = {
        "passed": report.passed,
        "mode": report.mode,
        "requested_mode": report.requested_mode,
        "h": report.h,
        "k": report.k,
        "seed": report.seed,
        "target": {"kind": result.kind, "description": result.description},
        "kernels": result.kernels or None,
        "verdict": report.verdict(),
        "checks": [check_document(c, o.label) for o in report.objectives for c in o.checks],
        "dtype": report.dtype,
        "objectives": [{"label": o.label, "loss": _number(o.loss), "passed": o.passed, "notes": o.notes,
                        "info": o.info} for o in report.objectives],
        "sweep": None if sweep is None else {
            "name": sweep.name, "where": _index(sweep.where), "analytic": sweep.analytic,
            "floor": sweep.floor,
            "points": [{"h": p.h, "numeric": _number(p.numeric), "rel_error": _number(p.rel_error),
                        "raw_rel_error": _number(p.raw_rel_error)}
                       for p in sweep.points],
            "order": _number(sweep.order()),
            "order_meaning": sweep.order_meaning(),
        },
    }
    if result.kind == "expression":
        doc["inputs"] = result.inputs
        doc["drawn"] = result.drawn
    return doc


def render_json(result) -> str:
    return json.dumps(gradcheck_document(result), indent=2, ensure_ascii=False)


def render_rich(result, console) -> None:
    """Tables, hints, kinks, sweep and verdict on a Rich console."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    report = result.report
    mode_note = f"{report.mode} mode" + (" (auto)" if report.requested_mode == "auto" else "")
    per = {"full": "every entry", "sparse": f"{report.k} random entries per tensor",
           "directional": f"{report.k} random unit directions per tensor"}[report.mode]
    kernels = f", {result.kernels} kernels" if result.kernels else ""
    _note(console, "", f"gradcheck {result.description} — {mode_note}: {per}, h={report.h:g}, "
          f"{report.dtype}{kernels}", "")
    if result.kind == "expression":
        values = ", ".join(f"{k}={v:g}" for k, v in result.inputs.items())
        drawn = f" (drawn with seed {report.seed}: {', '.join(result.drawn)})" if result.drawn else ""
        _note(console, "", f"at {values}{drawn}", "")
    for objective in report.objectives:
        _render_checks(objective, console)
        for note in objective.notes:
            _note(console, "  problem: ", note, "bold red")
        for line in objective.info:
            _note(console, "  setup: ", line, "dim")
        _precision_note(objective, console)
        kinked = [(c, index, crossing) for c in objective.checks for index, crossing in c.kink_details]
        for c, index, crossing in kinked:
            _note(console, "  kink: ", f"{c.name}{_index_text(index)} — {crossing.describe()}", "cyan")
        seen = {(c.name, index) for c, index, _ in kinked}
        detected = [(c, side) for c in objective.checks for side in c.kink_sides if (c.name, side[0]) not in seen]
        for c, (index, lower, upper, analytic) in detected:
            lo, hi = sorted((lower, upper))
            verdict = "between them: a valid subgradient" if lo <= analytic <= hi else "outside them"
            _note(console, "  kink: ", f"{c.name}{_index_text(index)} — the slopes on either side differ "
                  f"(left {lower:.5g}, right {upper:.5g}); the analytic {analytic:.5g} is {verdict}", "cyan")
        kinked = kinked or detected
        if kinked:
            _note(console, "  ", KINK_NOTE, "cyan")
        for c in objective.checks:
            for hint in c.hints:
                _note(console, "  hint: ", hint, "yellow")
            if c.message and not c.hints:
                _note(console, "  ", f"{c.name}: {c.message}", "yellow")
        if objective.sweep is not None:
            _render_sweep(objective.sweep, console)
    style = "bold green" if report.passed else "bold red"
    _note(console, "", report.verdict(), style)


def _natural_width(table) -> int:
    """The width a table takes when nothing in it is wrapped or cut."""
    import io

    from rich.console import Console

    wide = Console(file=io.StringIO(), width=10_000, color_system=None, record=True)
    wide.print(table)
    return max((len(line) for line in wide.export_text().splitlines()), default=0)


def _status_text(c) -> str:
    return c.status + (f" ({c.kinks} kink)" if c.kinks and c.status != "kink" else "")


def _render_checks(objective, console) -> None:
    """The checks as a table; as one block per gradient where the table would not fit whole."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    title = f"{objective.label}  (loss {objective.loss:.6g})"
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("parameter", no_wrap=True)
    columns = (("status", "left"), ("max rel err", "right"), ("worst index", "left"),
               ("analytic", "right"), ("numeric", "right"), ("shape", "left"), ("checked", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify, no_wrap=True)
    for c in objective.checks:
        table.add_row(c.name, Text(_status_text(c), style=STATUS_STYLE.get(c.status, "")),
                      _err(c.max_rel_error), _index_text(c.worst_index), _g(c.analytic),
                      _g(c.numeric), "×".join(map(str, c.shape)) or "scalar", str(c.entries))
    _note(console, "", title, "bold")
    if _natural_width(table) <= console.width:
        console.print(table)
        return
    for c in objective.checks:  # narrow terminals: nothing is cut, each gradient on a few lines
        console.print(Text.assemble(("  " + c.name, "bold"), "  ",
                                    (_status_text(c), STATUS_STYLE.get(c.status, "")),
                                    f"  max rel err {_err(c.max_rel_error)}"), no_wrap=True, crop=False)
        _note(console, "    ", f"worst {_index_text(c.worst_index)}: analytic {_g(c.analytic)}, "
              f"numeric {_g(c.numeric)}; shape {'×'.join(map(str, c.shape)) or 'scalar'}, "
              f"{c.entries} checked", "")
    console.print()


def _precision_note(objective, console) -> None:
    """float32: how close the float32 backward comes to the same code in float64."""
    measured = [c.precision for c in objective.checks if c.precision is not None]
    tol = objective.tolerance
    if tol is None or tol.dtype == "float64":
        return
    if not measured:
        _note(console, "  precision: ", "not measured (no float64 twin of this target)", "dim")
        return
    worst = max(measured)
    _note(console, "  precision: ", f"the {tol.dtype} backward agrees with the same code in float64 "
          f"to {worst:.1e} relative (max|g32 − g64| / max|g64|), {worst / tol.eps:.2g}× {tol.dtype}'s "
          f"ε = {tol.eps:.1e}; thresholds for {tol.dtype}: ok ≤ {tol.ok:g}, warn ≤ {tol.warn:g} "
          f"at h = {objective.h:g}", "")


def _note(console, lead: str, text: str, style: str) -> None:
    """One note, wrapped at word boundaries to the console's width with a hanging indent."""
    import textwrap

    from rich.text import Text

    indent = " " * (len(lead) + 2 if lead.strip() else len(lead) + 2)
    lines = textwrap.wrap(_bound(text), width=max(console.width - 1, 40), initial_indent=lead,
                          subsequent_indent=indent, break_on_hyphens=False) or [lead]
    for line in lines:
        console.print(Text(line.replace(_KEEP, " "), style=style), no_wrap=True, crop=True)


_KEEP = "\u00a0"  # a space the wrapping never breaks at; printed as a plain space
_UNITS = (
    (r"(?:\b(?:on|off) )?\((?:>|≤) 0\)", lambda m: m.group(0).replace(" ", _KEEP)),  # "on (> 0)" stays whole
    (r"\b(analytic|numeric|shape|err|error) (-?\d[\d.×e+-]*)", lambda m: m.group(1) + _KEEP + m.group(2)),
    (r"\b(\d+) (checked)\b", lambda m: m.group(1) + _KEEP + m.group(2)),
    (r"\b(fast|reference) kernels\b", lambda m: m.group(1) + _KEEP + "kernels"),
)


def _bound(text: str) -> str:
    """`text` with the spaces inside a name and its value ("numeric -3.5709e-05", "(> 0)")
    made unbreakable, so a narrow terminal wraps between such units, never inside one."""
    import re

    for pattern, keep in _UNITS:
        text = re.sub(pattern, keep, text)
    return text


def _render_sweep(sweep, console) -> None:
    from rich import box
    from rich.table import Table

    where = "" if sweep.where == () else _index_text(sweep.where)
    _note(console, "", f"h sweep at {sweep.name}{where} (analytic {sweep.analytic:.10g})", "bold")
    best = sweep.best()
    for bars in (True, False):  # the bars go first when the terminal is narrow
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("h", "numeric", "rel error", "no floor", ""):
            table.add_column(column, justify="left" if column == "" else "right", no_wrap=True)
        for p in sweep.points:
            bar = "#" * max(0, min(16, int(round(16 + math.log10(p.rel_error))))) if p.rel_error > 0 and bars else ""
            mark = ("  ← best" if bars else "←") if p is best else ""
            table.add_row(f"{p.h:.0e}", f"{p.numeric:.10g}", f"{p.rel_error:.1e}",
                          f"{p.raw_rel_error:.1e}", bar + mark)
        if _natural_width(table) <= console.width:
            break
    console.print(table)
    if sweep.floor > 0:
        _note(console, "  ", f"rel error = |a − n| / max(|a|, |n|, {sweep.floor:.1e}), the floor the "
              "table used at its h (from the round-off of one difference), so the two agree there; "
              "no floor = |a − n| / max(|a|, |n|).", "")
    _note(console, "  ", "large h: truncation error (~h²); tiny h: round-off (~ε/h); the error is "
          "smallest in between.", "")
    _note(console, "  order: ", sweep.order_meaning(), "bold")
