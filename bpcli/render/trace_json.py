"""`bpcli trace --format json`: the public JSON document (keys fixed by DESIGN.md).

Non-finite numbers are written as the strings "nan", "inf", "-inf" (JSON has no NaN).
"""

from __future__ import annotations

import json
import math
from typing import Any, Optional

from bpcli.expr.report import TraceReport
from bpcli.render.trace_numbers import local_formula


_INF, _NEG_INF = math.inf, -math.inf


def _number(value: Optional[float]) -> Any:
    if value == value and value != _INF and value != _NEG_INF:  # finite (or None)
        return value
    return "nan" if value != value else ("inf" if value > 0 else "-inf")


def trace_document(report: TraceReport) -> dict:
    """The trace as plain JSON-able data: expression, inputs, output, gradients, nodes, steps."""
    graph, trace = report.graph, report.trace
    values, grads = trace.values, trace.grads
    nodes = []
    for node in graph.nodes:
        entry = {
            "id": node.id,
            "op": node.op,
            "gate": graph.gate_label(node.id),
            "label": graph.label(node.id),
            "inputs": list(node.inputs),
            "value": _number(values[node.id]),
            "grad": _number(grads[node.id]),
        }
        if node.op == "var":
            entry["name"] = node.name
        nodes.append(entry)
    steps = []
    for step in trace.steps:
        steps.append({
            "node": step.node,
            "op": graph.nodes[step.node].op,
            "upstream": _number(step.upstream),
            "inputs": [
                {
                    "node": s.node,
                    "local": _number(s.local),
                    "formula": local_formula(graph, step.node, s),
                    "sent": _number(s.sent),
                    "accumulate": s.accumulated,
                    "grad": _number(s.total),
                }
                for s in step.inputs
            ],
        })
    checks = None
    if report.checks is not None:
        checks = [
            {"name": c.name, "analytic": _number(c.analytic), "numeric": _number(c.numeric),
             "rel_error": _number(c.rel_error), "status": c.status}
            for c in report.checks
        ]
    return {
        "expression": report.expression,
        "expanded": report.expanded,
        "inputs": {k: _number(v) for k, v in report.inputs.items()},
        "drawn": report.drawn,
        "seed": report.seed,
        "output": _number(trace.output),
        "gradients": {k: _number(v) for k, v in trace.gradients.items()},
        "checks": checks,
        "warnings": report.warnings,
        "notes": report.notes,
        "nodes": nodes,
        "steps": steps,
    }


def render_json(report: TraceReport) -> str:
    return json.dumps(trace_document(report), ensure_ascii=False, separators=(",", ":"))
