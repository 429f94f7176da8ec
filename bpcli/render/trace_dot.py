"""`bpcli trace --format dot`: a Graphviz digraph (no Graphviz needed to write it).

Every node shows its value and its gradient; every edge carries the gradient sent back
along it, like the lecture's diagrams (values forward, gradients backward).
"""

from __future__ import annotations

import math

from bpcli.expr.report import TraceReport


def _g(value) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(report: TraceReport) -> str:
    graph, trace = report.graph, report.trace
    lines = [
        "digraph trace {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, fontcolor="firebrick"];',
        f"  label={_quote('f = ' + report.expression if len(report.expression) < 200 else 'f')};",
    ]
    for node in graph.nodes:
        value, grad = trace.values[node.id], trace.grads[node.id]
        if node.op == "var":
            shape, title = "box", node.name
        elif node.op == "const":
            shape, title = "plaintext", graph.label(node.id)
        else:
            shape, title = "ellipse", f"{graph.gate_label(node.id)}  ({graph.label(node.id)})"
        extra = ", peripheries=2" if node.id == graph.output else ""
        label = f"{title}\\nvalue {_g(value)}\\ngrad {_g(grad)}"
        lines.append(f'  n{node.id} [shape={shape}{extra}, label="{label}"];')
    sent_along: dict[tuple[int, int], float] = {}
    for step in trace.steps:
        for sent in step.inputs:
            sent_along[(step.node, sent.position)] = sent.sent
    for node in graph.nodes:
        for position, child in enumerate(node.inputs):
            back = sent_along.get((node.id, position))
            attrs = f' [xlabel="{_g(back)}"]' if back is not None else ""
            lines.append(f"  n{child} -> n{node.id}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_tensor_dot(report) -> str:
    """The tensor trace as a digraph: shapes on the nodes and on the edges (forward), the
    gradient's shape and the VJP formula on each edge (backward)."""
    import numpy as np

    from bpcli.expr.tensor_ops import shape_text

    graph = report.graph
    lines = [
        "digraph trace {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
        f"  label={_quote('f = ' + report.expression if len(report.expression) < 200 else 'f')};",
    ]
    for node in graph.nodes:
        shape = shape_text(np.shape(report.values[node.id]))
        if node.op == "var":
            kind, title = "box", node.name
        elif node.op == "const":
            kind, title = "plaintext", graph.label(node.id)
        else:
            kind, title = "ellipse", f"{graph.gate_label(node.id)}  ({graph.label(node.id)})"
        extra = ", peripheries=2" if node.id == graph.output else ""
        lines.append(f"  n{node.id} [shape={kind}{extra}, label={_lines(title, shape)}];")
    formulas = {}
    for step in report.steps:
        for s in step.inputs:
            formulas[(step.node, s.position)] = s.formula
    for node in graph.nodes:
        for position, child in enumerate(node.inputs):
            shape = shape_text(np.shape(report.values[child]))
            back = formulas.get((node.id, position))
            label = _lines(shape, back) if back else _quote(shape)
            lines.append(f'  n{child} -> n{node.id} [label={label}, fontcolor="firebrick"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _lines(*texts: str) -> str:
    """A quoted DOT label of several lines."""
    return '"' + "\\n".join(_quote(t)[1:-1] for t in texts) + '"'
