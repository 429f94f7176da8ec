"""Number and formula text shared by the trace renderers (Rich, DOT)."""

from __future__ import annotations

import math
import re
from typing import Optional

from bpcli.expr.graph import ExprGraph, InputStep
from bpcli.expr.ops import OPS


def num(value: Optional[float]) -> str:
    """Short, lecture-style: integers as integers, 0.01–10⁵ with 2 decimals, else 3 significant."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    if 0.01 <= abs(value) < 1e5:
        return f"{value:.2f}"
    return f"{value:.3g}"


def precise(value: Optional[float]) -> str:
    """Six significant digits, for the gradients table."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return num(value)
    return f"{value:.6g}"


_GATE_VARIABLE = re.compile(r"(?<![A-Za-z0-9_])([xy])(?![A-Za-z0-9_(])")


def local_formula(graph: ExprGraph, gate_id: int, sent: InputStep) -> str:
    """The local partial's formula, e.g. `-1/x²`, `σ(1-σ)`; a two-input gate's x and y are
    replaced by its inputs' names (for `w1*x1`, ∂/∂w1 reads `x1`, not the table's `y`)."""
    node = graph.nodes[gate_id]
    formulas = OPS[node.op].formula
    formula = formulas[sent.position] if sent.position < len(formulas) else formulas[0]
    if OPS[node.op].arity != 2:
        return formula
    names = {"x": graph.label(node.inputs[0]), "y": graph.label(node.inputs[1])}
    return _GATE_VARIABLE.sub(lambda m: names[m.group(1)], formula)


def short_role(graph: ExprGraph, gate_id: int) -> str:
    """`distributes`, `switches`, `routes` ... (the word before ':' in the gate's role)."""
    return graph.role(gate_id).split(":", 1)[0]
