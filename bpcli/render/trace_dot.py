"""`bpcli trace --format dot`: the lecture's circuit as a Graphviz digraph (no Graphviz needed
to write it; `dot -Tsvg` draws it).

Gates are circles showing only their operation, constants fold into their gate (`+1`, `*-1`),
every wire carries its value (green) above its gradient (red) as a label beside it, and a value
that feeds two gates passes through a fork point marked `+=` (its gradient is the sum).
"""

from __future__ import annotations

from bpcli.expr.report import TraceReport
from bpcli.render.circuit import folded
from bpcli.render.circuit_svg import GRAD_COLOR, VALUE_COLOR, WIRE_COLOR
from bpcli.render.trace_numbers import num


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _wire_label(value: str, grad) -> str:
    lines = f'<font color="{VALUE_COLOR}">{_html(value)}</font>'
    if grad is not None:
        lines += f'<br/><font color="{GRAD_COLOR}">{_html(grad)}</font>'
    return f"<{lines}>"


def render_dot(report: TraceReport) -> str:
    graph, trace = report.graph, report.trace
    title = "f = " + report.expression if len(report.expression) < 200 else "f"
    lines = [
        "digraph trace {",
        "  rankdir=LR; bgcolor=white; nodesep=0.35; ranksep=0.45;",
        f'  fontname="monospace"; labelloc=t; labeljust=l; label={_quote(title)};',
        f'  node [fontname="monospace", fontsize=12, color="{WIRE_COLOR}"];',
        f'  edge [fontname="monospace", fontsize=11, color="{WIRE_COLOR}", arrowsize=0.6];',
    ]
    hidden: set[int] = set()
    for node in graph.nodes:
        hidden |= folded(report, node.id)
    sent = {}
    for step in trace.steps:
        for s in step.inputs:
            sent[(step.node, s.position)] = num(s.sent)
    edges = [
        (child, node.id, position)
        for node in graph.nodes
        for position, child in enumerate(node.inputs)
        if child not in folded(report, node.id)
    ]
    fanout: dict[int, int] = {}
    for child, _, _ in edges:
        fanout[child] = fanout.get(child, 0) + 1
    used = {graph.output} | set(fanout)
    for node in graph.nodes:
        if node.id in hidden or node.id not in used:
            continue
        if node.is_leaf:
            name = node.name if node.op == "var" else graph.label(node.id)
            lines.append(f"  n{node.id} [shape=plaintext, fontsize=14, label={_quote(name)}];")
        else:
            label = _quote(graph.gate_label(node.id))
            lines.append(f'  n{node.id} [shape=circle, fixedsize=true, width=0.55, label={label}, '
                         'style=filled, fillcolor="#fffdf5"];')
    for node_id, count in fanout.items():
        if count > 1:
            grad = None if trace.grads[node_id] is None else num(trace.grads[node_id])
            lines.append(f'  fork{node_id} [shape=point, width=0.07, xlabel=<<font color="{GRAD_COLOR}">+=</font>>];')
            lines.append(f"  n{node_id} -> fork{node_id} [arrowhead=none, "
                         f"label={_wire_label(num(trace.values[node_id]), grad)}];")
    for child, gate, position in edges:
        source = f"fork{child}" if fanout[child] > 1 else f"n{child}"
        grad = None if trace.grads[child] is None else sent.get((gate, position), num(0.0))
        lines.append(f"  {source} -> n{gate} [label={_wire_label(num(trace.values[child]), grad)}];")
    out = graph.output
    grad = None if trace.grads[out] is None else num(trace.grads[out])
    lines.append('  output [shape=plaintext, label=""];')
    lines.append(f"  n{out} -> output [label={_wire_label(num(trace.values[out]), grad)}];")
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
