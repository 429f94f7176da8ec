"""Number and formula text shared by the trace renderers (Rich, DOT)."""

from __future__ import annotations

import math
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


def local_formula(graph: ExprGraph, gate_id: int, sent: InputStep) -> str:
    """The local partial's formula in the gate's variables, e.g. `-1/x²`, `σ(1-σ)`, `y`."""
    node = graph.nodes[gate_id]
    formulas = OPS[node.op].formula
    return formulas[sent.position] if sent.position < len(formulas) else formulas[0]


def short_role(op_name: str) -> str:
    """`distributes`, `switches`, `routes` ... (the word before ':' in the op table's role)."""
    return OPS[op_name].role.split(":", 1)[0]
