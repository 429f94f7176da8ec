"""The one interpreter of expression graphs: forward, then backward in reverse node order.

It serves `trace` of scalars (the op table's Python column: floats, no NumPy), `trace` of
tensors and the `expr` layer (the NumPy column: arrays with broadcasting). Scalars multiply
upstream × local partial; arrays take each gate's vector-Jacobian product: elementwise gates
`unbroadcast(upstream ⊙ partial)`, tensor gates their own `vjps`. Plain loops over the node
list (inputs-first), never recursion.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from bpcli.expr.ops import OPS

PYTHON, NUMPY = "python", "numpy"


class InputStep:
    """What one gate sent to one input: upstream × local = sent; `total` is the input's grad after."""

    __slots__ = ("node", "position", "local", "sent", "accumulated", "total")

    def __init__(self, node: int, position: int, local: Any, sent: Any, accumulated: bool, total: Any):
        self.node = node
        self.position = position  # which input of the gate (x*x has one node at positions 0 and 1)
        self.local = local  # the local partial (None for a tensor gate: it has a VJP instead)
        self.sent = sent
        self.accumulated = accumulated  # the input already had gradient from another path (`+=`)
        self.total = total


class BackwardStep:
    """One gate in the backward pass (reverse topological order)."""

    __slots__ = ("node", "upstream", "inputs")

    def __init__(self, node: int, upstream: Any, inputs: list[InputStep]):
        self.node = node
        self.upstream = upstream
        self.inputs = inputs


def forward(graph, leaves: Callable[[Any], Any], column: str = PYTHON, on_gate=None) -> list:
    """The value of every node in node order; `leaves(node)` gives a variable's or constant's
    value. `on_gate(node, args)` may check a gate's inputs before it runs (shapes)."""
    out: list = [None] * len(graph.nodes)
    python = column == PYTHON
    for node in graph.nodes:
        inputs = node.inputs
        if not inputs:
            out[node.id] = leaves(node)
            continue
        op = OPS[node.op]
        if python:
            out[node.id] = op.forward(out[inputs[0]]) if len(inputs) == 1 else op.forward(*[out[i] for i in inputs])
        else:
            args = [out[i] for i in inputs]
            if on_gate is not None:
                on_gate(node, args)
            out[node.id] = op.np_forward(*args, **node.options)
    return out


def vjp(op, position: int, upstream, args: Sequence[Any], out, options: dict):
    """(what input `position` receives, the elementwise local partial or None) over arrays."""
    if op.vjps:
        return op.vjps[position](upstream, *args, out, **options), None
    from bpcli.expr.tensor_ops import unbroadcast

    local = op.np_local(position, args, out)
    sent = upstream * local
    shape = getattr(args[position], "shape", ())
    return unbroadcast(sent, shape) if getattr(sent, "shape", ()) != shape else sent, local


def backward(
    graph,
    values: list,
    seed: Any,
    column: str = PYTHON,
    record: bool = True,
    needs: Optional[Sequence[bool]] = None,
) -> tuple[list, list[BackwardStep]]:
    """(grads by node, recorded steps): `seed` is the output's upstream gradient; only
    inputs with `needs[id]` get gradient (default: every node that is not a constant)."""
    nodes = graph.nodes
    if needs is None:
        needs = [node.op != "const" for node in nodes]
    grads: list = [None] * len(nodes)
    if column == PYTHON:
        for node in nodes:
            if node.op != "const":
                grads[node.id] = 0.0
    reached = [False] * len(nodes)
    grads[graph.output] = seed if needs[graph.output] else None
    reached[graph.output] = True
    steps: list[BackwardStep] = []
    python = column == PYTHON
    for node in reversed(nodes):
        if not node.inputs or not reached[node.id] or grads[node.id] is None:
            continue
        upstream = grads[node.id]
        op = OPS[node.op]
        args = [values[i] for i in node.inputs]
        out = values[node.id]
        sent_to: list[InputStep] = []
        for position, child in enumerate(node.inputs):
            if not needs[child] or (op.vjps and op.vjps[position] is None):
                continue
            if python:
                local = op.local(position, args, out)
                sent = upstream * local
            else:
                sent, local = vjp(op, position, upstream, args, out, node.options)
            accumulated = reached[child]
            total = grads[child] + sent if accumulated else sent  # never in place
            grads[child] = total
            reached[child] = True
            if record:
                sent_to.append(InputStep(child, position, local, sent, accumulated, total))
        if record:
            steps.append(BackwardStep(node.id, upstream, sent_to))
    return grads, steps
