"""Number and formula text shared by the trace renderers (Rich, DOT)."""

from __future__ import annotations

import math
from typing import Optional

from bpcli.expr.graph import ExprGraph, InputStep
from bpcli.expr.formulas import local_formula as named_local_formula


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


def num_digits(value: float, digits: int) -> str:
    """Like `num`, with `digits` decimals (0.01–10⁵) or digits+1 significant digits."""
    if not math.isfinite(value) or (value == int(value) and abs(value) < 1e9):
        return num(value)
    if 0.01 <= abs(value) < 1e5:
        return f"{value:.{digits}f}"
    return f"{value:.{digits + 1}g}"


def product_text(upstream: float, local: float, sent: float) -> tuple[str, str, str]:
    """upstream, local and sent as texts whose product on screen multiplies out.

    Starts lecture-short (0.20×-2 would claim -0.40 where -0.39 is sent) and adds digits until
    the shown factors, multiplied, round to the shown product: 0.1966×-2 = -0.3932.
    """
    if not all(math.isfinite(v) for v in (upstream, local, sent)):
        return num(upstream), num(local), num(sent)
    for digits in range(2, 16):
        texts = num_digits(upstream, digits), num_digits(local, digits), num_digits(sent, digits)
        if num_digits(float(texts[0]) * float(texts[1]), digits) == texts[2]:
            return texts
    return repr(upstream), repr(local), repr(sent)  # exact: sent is the float product


def precise(value: Optional[float]) -> str:
    """Six significant digits, for the gradients table."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return num(value)
    return f"{value:.6g}"


def local_formula(graph: ExprGraph, gate_id: int, sent: InputStep) -> str:
    """The local partial's formula in the gate's input names (see `bpcli.expr.formulas`)."""
    return named_local_formula(graph, gate_id, sent.position)


def short_role(graph: ExprGraph, gate_id: int) -> str:
    """`distributes`, `switches`, `routes` ... (the word before ':' in the gate's role)."""
    return graph.role(gate_id).split(":", 1)[0]
