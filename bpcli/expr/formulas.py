"""Formula text in the operands' own names: local partials (`x1` for ∂(w1*x1)/∂w1) and the
vector-Jacobian products of tensor gates (`dW = dout ⊗ x`, `db = Σ over rows of dout`).

Library code, so every renderer (tables, JSON, DOT, the circuit picture) shows the same text.
"""

from __future__ import annotations

import re

from bpcli.expr.ops import OPS

_GATE_VARIABLE = re.compile(r"(?<![A-Za-z0-9_])([xy])(?![A-Za-z0-9_(])")
_OUT = re.compile(r"(?<![A-Za-z0-9_])out(?![A-Za-z0-9_])")


def local_formula(graph, gate_id: int, position: int, *, every_arity: bool = False) -> str:
    """The local partial's formula, e.g. `-1/x²`, `σ(1-σ)`; a two-input gate's x and y are
    replaced by its inputs' names (for `w1*x1`, ∂/∂w1 reads `x1`, not the table's `y`);
    with `every_arity`, one-input gates' x too."""
    node = graph.nodes[gate_id]
    op = OPS[node.op]
    formulas = op.formula
    formula = formulas[position] if position < len(formulas) else formulas[0]
    if len(node.inputs) == 2 and op.routes:
        me, other = graph.label(node.inputs[position]), graph.label(node.inputs[1 - position])
        return f"[{me} {'>' if op.call == 'max' else '<'} {other}]" if every_arity else formula
    if op.arity != 2 and not (every_arity and len(node.inputs) == 1):
        return formula
    names = {"x": graph.label(node.inputs[0]), "y": graph.label(node.inputs[-1])}
    return _GATE_VARIABLE.sub(lambda m: names[m.group(1)], formula)


def _broadcast_words(axes: tuple, out_ndim: int) -> str:
    if len(axes) == out_ndim:
        return "Σ of"
    if out_ndim == 2 and axes == (0,):
        return "Σ over rows of"
    if out_ndim == 2 and axes == (1,):
        return "Σ over columns of"
    return f"Σ over axes {', '.join(map(str, axes))} of"


def vjp_formula(graph, gate_id: int, position: int, shapes: list[tuple], out_shape: tuple) -> str:
    """`d<input> = …`: what input `position` of the gate receives, in the operands' names."""
    from bpcli.expr.tensor_ops import broadcast_axes

    node = graph.nodes[gate_id]
    op = OPS[node.op]
    names = [graph.label(i) for i in node.inputs]
    target = f"d{names[position]}"
    if op.vjp_formula is not None:
        text = op.vjp_formula(names, shapes, node.options)[position]
        return f"{target} = {_OUT.sub(graph.label(gate_id), text)}"
    local = local_formula(graph, gate_id, position, every_arity=True)
    local = _OUT.sub(graph.label(gate_id), local)
    if local == "1":
        product = "dout"
    elif local == "-1":
        product = "-dout"
    else:
        plain = re.fullmatch(r"[A-Za-z0-9_.]+|\[[^\]]*\]|[A-Za-z]+\([^()]*\)", local)
        product = f"dout ⊙ {local if plain else f'({local})'}"
    axes = broadcast_axes(shapes[position], out_shape)
    if axes:
        wrapped = product if product == "dout" else f"({product})"
        product = f"{_broadcast_words(axes, len(out_shape))} {wrapped}"
    return f"{target} = {product}"
