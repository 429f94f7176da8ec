"""The lecture's circuit as geometry: gates as circles, inputs on the left, the output on the
right, every wire with its forward value above and its gradient below.

`layout_circuit(report)` reads a TraceReport (it never computes a value or a gradient) and
places everything on a canvas; the SVG and HTML writers only draw what it placed.

Layout (Sugiyama style, all loops, no recursion): each node gets a layer (inputs as late as
possible, so a wire spans one layer unless its value forks), long wires pass through dummy
slots, layers are ordered by barycentres to cut crossings, and heights come from isotonic
regression so wires run straight where they can. A wire leaves its source horizontally, bends,
then runs horizontally into its gate: its labels sit on that last run, clear of every bend.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

from bpcli.expr.graph import CONSTANT, VARIABLE
from bpcli.expr.ops import OPS
from bpcli.expr.report import TraceReport
from bpcli.render.trace_numbers import num
from bpcli.render.trace_numbers import product_text as scalar_product_text

MAX_GATES = 300  # a bigger circuit is no picture: JSON or the tables are the way to read it

LABEL_SIZE = 13.0  # font size of values and gradients
GATE_SIZE = 14.0  # font size of the operation inside a circle
NAME_SIZE = 15.0  # font size of input names
CHAR_WIDTH = 0.6  # monospace advance per character, in ems (the writers use monospace)
ASPECT = 16 / 9
MARGIN = 28.0
BEND = 44.0  # horizontal length of a wire's bend between two heights
PORT_GAP = 44.0  # vertical distance between the input ports of one gate
ROW = 100.0  # minimum distance between two nodes of one layer
DUMMY_ROW = 40.0  # ... between a wire passing through a layer and its neighbours


def text_width(text: str, size: float) -> float:
    """Width of `text` in a monospace font of `size`."""
    return len(text) * CHAR_WIDTH * size


class Label:
    """One piece of text: anchor 'start', 'middle' or 'end' at x; y is the baseline."""

    __slots__ = ("text", "x", "y", "size", "anchor", "kind")

    def __init__(self, text: str, x: float, y: float, size: float, anchor: str, kind: str):
        self.text, self.x, self.y, self.size, self.anchor, self.kind = text, x, y, size, anchor, kind

    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of the text as drawn."""
        width = text_width(self.text, self.size)
        left = self.x - {"start": 0.0, "middle": width / 2, "end": width}[self.anchor]
        return left, self.y - 0.8 * self.size, left + width, self.y + 0.25 * self.size


class Gate:
    """A circle with its operation."""

    __slots__ = ("node", "x", "y", "r", "op", "label")

    def __init__(self, node: int, x: float, y: float, r: float, op: str):
        self.node, self.x, self.y, self.r, self.op = node, x, y, r, op
        self.label = Label(op, x, y + 0.35 * GATE_SIZE, GATE_SIZE, "middle", "op")


class Wire:
    """A polyline carrying one value forward and one gradient back.

    kind: 'edge' (source -> one input of a gate), 'trunk' (a value before it forks: its
    gradient is the sum, `+=`, of its branches') or 'output' (the circuit's result).
    """

    __slots__ = ("id", "kind", "source", "gate", "position", "points", "value", "grad", "step", "note",
                 "source_name")

    def __init__(self, id: str, kind: str, source: int, gate: Optional[int], position: int):
        self.id, self.kind, self.source, self.gate, self.position = id, kind, source, gate, position
        self.points: list[tuple[float, float]] = []
        self.value: Optional[Label] = None
        self.grad: Optional[Label] = None  # None for a constant's wire (no gradient)
        self.step: Optional[int] = None  # index of the backward step that sends this gradient
        self.note = ""  # the step's arithmetic: upstream × local = downstream
        self.source_name = ""  # the source as the tables name it: x, 3, n5


class Circuit:
    """Everything to draw, in canvas coordinates (width:height = 16:9)."""

    def __init__(self) -> None:
        self.width = 0.0
        self.height = 0.0
        self.gates: list[Gate] = []
        self.wires: list[Wire] = []
        self.names: list[Label] = []  # input and constant names at the left end of their wires
        self.forks: list[tuple[float, float, Label]] = []  # fork dot and its `+=`
        self.notes: list[Label] = []  # title and legend

    def labels(self) -> list[Label]:
        found = [g.label for g in self.gates] + list(self.names) + list(self.notes)
        found += [label for _, _, label in self.forks]
        for wire in self.wires:
            found += [label for label in (wire.value, wire.grad) if label is not None]
        return found


def trace_parts(report) -> tuple[list, list, list]:
    """(values, grads, backward steps) of a scalar TraceReport or a TensorTraceReport."""
    trace = getattr(report, "trace", None)
    if trace is not None:
        return trace.values, trace.grads, trace.steps
    return report.values, report.grads, report.steps


SMALL_TEXT = 22  # a tensor whose numbers fit in this many characters shows them, else its shape


def tensor_text(value) -> str:
    """A wire's label for a tensor: its numbers when they are few ([0.28 0.85 0]), else its shape."""
    import numpy as np

    from bpcli.expr.tensor_ops import shape_text

    array = np.asarray(value)
    if array.ndim == 0:
        return num(float(array))
    if array.size <= 4:
        flat = [num(float(v)) for v in array.ravel()]
        if array.ndim == 1:
            text = "[" + " ".join(flat) + "]"
        elif array.ndim == 2:
            rows = [flat[i * array.shape[1]:(i + 1) * array.shape[1]] for i in range(array.shape[0])]
            text = "[" + " ".join("[" + " ".join(r) + "]" for r in rows) + "]"
        else:
            text = ""
        if text and len(text) <= SMALL_TEXT:
            return text
    return shape_text(array.shape)


def step_note(step, sent, value_text: Callable) -> str:
    """What hovering a wire tells: upstream × local = downstream (a scalar gate), or the
    vector-Jacobian product with its shapes (a tensor gate)."""
    if hasattr(sent, "local"):
        up, local, down = product_text(step.upstream, sent.local, sent.sent, value_text)
        return f"upstream × local = downstream: {up} × {local} = {down}"
    from bpcli.expr.tensor_ops import shape_text

    import numpy as np

    return (f"vector-Jacobian product: {sent.formula} = {value_text(sent.sent)} "
            f"(dout {shape_text(np.shape(step.upstream))} → {shape_text(np.shape(sent.sent))})")


def product_text(upstream, local, sent, value_text: Callable) -> tuple[str, str, str]:
    """Scalars: factors whose shown product multiplies out; anything else: as `value_text` shows it."""
    if all(isinstance(v, (int, float)) for v in (upstream, local, sent)):
        return scalar_product_text(upstream, local, sent)
    return value_text(upstream), value_text(local), value_text(sent)


def folded(report: TraceReport, node_id: int) -> set[int]:
    """The constant inputs a gate shows in its own label (`+1`, `*-1`): not drawn as wires."""
    graph = report.graph
    node = graph.nodes[node_id]
    if node.is_leaf or not OPS[node.op].constant_label or graph.constant_input(node_id) is None:
        return set()
    return {i for i in node.inputs if graph.nodes[i].op == CONSTANT}


class _Slot:
    """A node or a dummy (a wire passing through a layer) at one layer."""

    __slots__ = ("key", "layer", "y", "y_index", "height", "ups", "downs")

    def __init__(self, key, layer: int, height: float):
        self.key, self.layer, self.height = key, layer, height
        self.y = 0.0
        self.y_index = 0
        self.ups: list[tuple["_Slot", float]] = []  # (slot one layer left, port offset here)
        self.downs: list[tuple["_Slot", float]] = []  # (slot one layer right, port offset there)


def _layers(report: TraceReport, edges: list[tuple[int, int, int]], shown: list[int]) -> dict[int, int]:
    """Longest path from the inputs, then every node pulled right to just before its first use."""
    graph = report.graph
    layer = {}
    ins: dict[int, list[int]] = {n: [] for n in shown}
    outs: dict[int, list[int]] = {n: [] for n in shown}
    for source, gate, _ in edges:
        ins[gate].append(source)
        outs[source].append(gate)
    for n in shown:  # node ids are a topological order
        layer[n] = 1 + max((layer[i] for i in ins[n]), default=-1)
    for n in reversed(shown):
        if n != graph.output and outs[n]:
            layer[n] = min(layer[g] for g in outs[n]) - 1
    return layer


def _isotonic(targets: list[float], gaps: list[float]) -> list[float]:
    """Heights closest (least squares) to `targets` keeping y[i+1] - y[i] >= gaps[i]
    (pool-adjacent-violators on the targets shifted by the cumulative gaps)."""
    offsets = [0.0]
    for gap in gaps:
        offsets.append(offsets[-1] + gap)
    shifted = [t - o for t, o in zip(targets, offsets)]
    blocks: list[list[float]] = []  # [mean, count]
    for value in shifted:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            blocks[-1][0] = (blocks[-1][0] * blocks[-1][1] + mean * count) / (blocks[-1][1] + count)
            blocks[-1][1] += count
    result: list[float] = []
    for mean, count in blocks:
        result += [mean] * int(count)
    return [r + o for r, o in zip(result, offsets)]


def _crossings(order: list[list[_Slot]]) -> int:
    count = 0
    for column in order[:-1]:
        position = {id(s): i for i, s in enumerate(column)}
        pairs = []
        for s in column:
            for target, offset in s.downs:
                pairs.append((position[id(s)], target.y_index, offset))
        for a in range(len(pairs)):
            for b in range(a + 1, len(pairs)):
                (p1, q1, o1), (p2, q2, o2) = pairs[a], pairs[b]
                if (p1 < p2 and (q1, o1) > (q2, o2)) or (p1 > p2 and (q1, o1) < (q2, o2)):
                    count += 1
    return count


def _order(columns: list[list[_Slot]], sweeps: int = 6) -> list[list[_Slot]]:
    """Barycentre sweeps (right to left, then left to right); the order with fewest crossings."""

    def index(cols):
        for col in cols:
            for i, s in enumerate(col):
                s.y_index = i

    index(columns)
    best, best_count = [list(c) for c in columns], _crossings(columns)
    for sweep in range(sweeps):
        rng = range(len(columns) - 2, -1, -1) if sweep % 2 == 0 else range(1, len(columns))
        for k in rng:
            def centre(s, fallback):
                near = s.downs if sweep % 2 == 0 else s.ups
                if not near:
                    return fallback
                return sum(t.y_index + offset / (2 * PORT_GAP) for t, offset in near) / len(near)

            columns[k] = sorted(columns[k], key=lambda s: centre(s, s.y_index))
            for i, s in enumerate(columns[k]):
                s.y_index = i
        count = _crossings(columns)
        if count < best_count:
            best, best_count = [list(c) for c in columns], count
    index(best)
    return best


def _place(columns: list[list[_Slot]], rounds: int = 12) -> None:
    """Heights: each slot near its neighbours' (port-adjusted) heights, kept apart in its layer."""
    for col in columns:
        y = 0.0
        for i, s in enumerate(col):
            if i:
                y += (col[i - 1].height + s.height) / 2
            s.y = y
    for round_ in range(rounds):
        order = range(len(columns)) if round_ % 2 == 0 else range(len(columns) - 1, -1, -1)
        for k in order:
            col = columns[k]
            targets = []
            for s in col:
                # feeding port `offset` of gate t: sit at t.y + offset; a gate: at its inputs'
                # heights less their ports' offsets
                pulls = [t.y + offset for t, offset in s.downs] + [t.y - offset for t, offset in s.ups]
                targets.append(sum(pulls) / len(pulls) if pulls else s.y)
            gaps = [(col[i].height + col[i + 1].height) / 2 for i in range(len(col) - 1)]
            for s, y in zip(col, _isotonic(targets, gaps)):
                s.y = y


def layout_circuit(
    report: TraceReport,
    value_text: Optional[Callable] = None,
    title: Optional[str] = None,
    aspect: Optional[float] = ASPECT,
) -> Circuit:
    """Place the report's graph as the lecture's circuit. Nothing here computes a gradient.

    `title` defaults to `f = <expression>` ("" for none); `aspect` pads the canvas to
    width:height (None: tight around the drawing)."""
    from bpcli.errors import UsageError

    graph = report.graph
    values, grads, steps = trace_parts(report)
    if value_text is None:
        value_text = tensor_text if getattr(report, "tensor", False) else num
    gates = sum(1 for n in graph.nodes if not n.is_leaf)
    if gates > MAX_GATES:
        raise UsageError(
            f"the circuit picture draws at most {MAX_GATES} gates; this expression has {gates:,} "
            "(use --format json or the tables)"
        )
    hidden: set[int] = set()
    for node in graph.nodes:
        hidden |= folded(report, node.id)
    edges = []  # (source, gate, position)
    for node in graph.nodes:
        for position, child in enumerate(node.inputs):
            if child not in folded(report, node.id):
                edges.append((child, node.id, position))
    used = {graph.output} | {s for s, _, _ in edges}
    shown = [n.id for n in graph.nodes if n.id in used and n.id not in hidden]
    layer = _layers(report, edges, shown)
    fanout: dict[int, int] = {}
    for source, _, _ in edges:
        fanout[source] = fanout.get(source, 0) + 1
    arity = {n: sum(1 for s, g, _ in edges if g == n) for n in shown}

    def port_offset(gate: int, position: int) -> float:
        ports = [p for s, g, p in edges if g == gate]
        index = sorted(ports).index(position)
        return (index - (len(ports) - 1) / 2) * PORT_GAP

    n_layers = max(layer.values()) + 1
    columns: list[list[_Slot]] = [[] for _ in range(n_layers)]
    slot_of: dict[int, _Slot] = {}
    for n in shown:
        leaf = graph.nodes[n].is_leaf
        height = PORT_GAP + 4 if leaf else max(ROW, arity[n] * PORT_GAP + 2 * LABEL_SIZE + 20)
        slot_of[n] = _Slot(n, layer[n], height)
        columns[layer[n]].append(slot_of[n])
    chains: dict[tuple[int, int], list[_Slot]] = {}
    for source, gate, position in edges:
        chain = [slot_of[source]]
        for k in range(layer[source] + 1, layer[gate]):
            dummy = _Slot(("wire", gate, position), k, DUMMY_ROW)
            columns[k].append(dummy)
            chain.append(dummy)
        chain.append(slot_of[gate])
        offset = port_offset(gate, position)
        for a, b in zip(chain, chain[1:]):
            o = offset if b is chain[-1] else 0.0
            a.downs.append((b, o))
            b.ups.append((a, o))
        chains[(gate, position)] = chain
    columns = _order(columns)
    _place(columns)

    # ---- horizontal geometry ------------------------------------------------------------
    op_text = {n: graph.gate_label(n) for n in shown if not graph.nodes[n].is_leaf}
    radius = max([26.0] + [text_width(t, GATE_SIZE) / 2 + 7 for t in op_text.values()])
    value_of = {n: value_text(values[n]) for n in shown}
    grad_of = {n: (None if grads[n] is None else value_text(grads[n])) for n in shown}
    sent_text: dict[tuple[int, int], tuple[str, int]] = {}
    notes: dict[tuple[int, int], str] = {}
    trunk_notes: dict[int, list[str]] = {}
    for index, step in enumerate(steps):
        for sent in step.inputs:
            sent_text[(step.node, sent.position)] = (value_text(sent.sent), index)
            notes[(step.node, sent.position)] = step_note(step, sent, value_text)
            trunk_notes.setdefault(sent.node, []).append(value_text(sent.sent))
    texts = list(value_of.values()) + [g for g in grad_of.values() if g] + [t for t, _ in sent_text.values()]
    run = max(text_width(t, LABEL_SIZE) for t in texts) + 14
    forks = any(count > 1 for count in fanout.values())
    trunk = run + 18 if forks else 0.0
    names = {n: (graph.nodes[n].name if graph.nodes[n].op == VARIABLE else graph.label(n))
             for n in shown if graph.nodes[n].is_leaf}
    name_width = max([0.0] + [text_width(t, NAME_SIZE) + 8 for t in names.values()])
    column = 2 * radius + trunk + BEND + run
    x0 = MARGIN + name_width - radius

    def x_of(k: int) -> float:
        return x0 + k * column

    circuit = Circuit()
    for n in shown:
        s = slot_of[n]
        if graph.nodes[n].is_leaf:
            circuit.names.append(Label(names[n], x_of(s.layer) + radius - 6, s.y + 0.35 * NAME_SIZE,
                                       NAME_SIZE, "end", "name"))
        else:
            circuit.gates.append(Gate(n, x_of(s.layer), s.y, radius, op_text[n]))

    def out_x(n: int) -> float:
        return x_of(layer[n]) + radius

    def labelled(wire: Wire, x_mid: float, y: float, value: str, grad: Optional[str]) -> None:
        wire.value = Label(value, x_mid, y - 6, LABEL_SIZE, "middle", "value")
        if grad is not None:
            wire.grad = Label(grad, x_mid, y + 5 + 0.8 * LABEL_SIZE, LABEL_SIZE, "middle", "grad")

    for n in shown:
        if fanout.get(n, 0) > 1:
            s = slot_of[n]
            wire = Wire(f"trunk-{n}", "trunk", n, None, 0)
            start = out_x(n)
            wire.points = [(start, s.y), (start + trunk, s.y)]
            labelled(wire, start + run / 2, s.y, value_of[n], grad_of[n])
            parts = trunk_notes.get(n, [])
            wire.note = f"gradients add at a fork (+=): {' + '.join(parts)} = {grad_of[n]}"
            circuit.wires.append(wire)
            circuit.forks.append(
                (start + trunk, s.y,
                 Label("+=", start + trunk - 3, s.y - 6, LABEL_SIZE, "end", "fork"))
            )
    for source, gate, position in edges:
        chain = chains[(gate, position)]
        wire = Wire(f"wire-{gate}-{position}", "edge", source, gate, position)
        points = [(out_x(source), chain[0].y)]
        for a, b in zip(chain, chain[1:]):
            y_b = b.y + (port_offset(gate, position) if b is chain[-1] else 0.0)
            x_a = x_of(a.layer) + radius + trunk
            points.append((x_a, a.y))
            points.append((x_a + BEND, y_b))
            if b is chain[-1]:
                dy = abs(y_b - b.y)
                points.append((x_of(b.layer) - math.sqrt(max(radius**2 - dy**2, 0.0)), y_b))
            else:
                points.append((x_of(b.layer) + radius, y_b))
        wire.points = _dedupe(points)
        y_end = wire.points[-1][1]
        sent = sent_text.get((gate, position))
        grad = None if grads[source] is None else (sent[0] if sent else value_text(0.0))
        wire.step = sent[1] if sent else None
        wire.note = notes.get((gate, position), "")
        labelled(wire, x_of(layer[gate]) - radius - run / 2, y_end, value_of[source], grad)
        circuit.wires.append(wire)
    out = graph.output
    wire = Wire("wire-out", "output", out, None, 0)
    y = slot_of[out].y
    wire.points = [(out_x(out), y), (out_x(out) + run + 24, y)]
    labelled(wire, out_x(out) + 12 + run / 2, y, value_of[out], grad_of[out])
    wire.note = f"the output: f = {value_of[out]}, df/df = {grad_of[out]}"
    circuit.wires.append(wire)

    for wire in circuit.wires:
        wire.source_name = graph.label(wire.source)
    _frame(circuit, title if title is not None else f"f = {report.expression}", aspect)
    return circuit


def _dedupe(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    kept = [points[0]]
    for p in points[1:]:
        if abs(p[0] - kept[-1][0]) > 1e-9 or abs(p[1] - kept[-1][1]) > 1e-9:
            kept.append(p)
    return kept


def _frame(circuit: Circuit, title: str, aspect: Optional[float]) -> None:
    """Title above, legend below, then shift everything onto a canvas (width:height = aspect)."""
    boxes = [label.box() for label in circuit.labels()]
    boxes += [(g.x - g.r, g.y - g.r, g.x + g.r, g.y + g.r) for g in circuit.gates]
    boxes += [(x, y, x, y) for wire in circuit.wires for x, y in wire.points]
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    right = max(b[2] for b in boxes)
    bottom = max(b[3] for b in boxes)
    if len(title) > 120:
        title = title[:119] + "…"
    if title:
        circuit.notes.append(Label(title, left, top - 22, 15.0, "start", "title"))
    circuit.notes.append(Label("value (forward)", left, bottom + 30, 13.0, "start", "legend-value"))
    circuit.notes.append(
        Label("gradient (backward)", left + text_width("value (forward)   ", 13.0), bottom + 30,
              13.0, "start", "legend-grad")
    )
    boxes = [label.box() for label in circuit.notes] + [(left, top, right, bottom)]
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    right = max(b[2] for b in boxes)
    bottom = max(b[3] for b in boxes)
    width, height = right - left + 2 * MARGIN, bottom - top + 2 * MARGIN
    if aspect is not None and width / height < aspect:
        width = height * aspect
    elif aspect is not None:
        height = width / aspect
    dx = (width - (right - left)) / 2 - left
    dy = (height - (bottom - top)) / 2 - top
    for label in circuit.labels():
        label.x += dx
        label.y += dy
    for gate in circuit.gates:
        gate.x += dx
        gate.y += dy
    for wire in circuit.wires:
        wire.points = [(x + dx, y + dy) for x, y in wire.points]
    circuit.forks = [(x + dx, y + dy, label) for x, y, label in circuit.forks]
    circuit.width, circuit.height = width, height
