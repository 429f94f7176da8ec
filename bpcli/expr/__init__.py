"""The scalar expression engine behind `bpcli trace`: pure Python floats, no NumPy import.

`parse(text)` -> ExprGraph with `.variables`, `.evaluate(values)`, `.gradients(values)`,
`.kink_state(values)`, `.backward(values)` (a recorded Trace) and `.expanded()`.
"""

from bpcli.expr.graph import ExprGraph, ExprNode, Trace
from bpcli.expr.ops import OPS, Op
from bpcli.expr.parse import parse
from bpcli.expr.printer import to_text

__all__ = ["parse", "ExprGraph", "ExprNode", "Trace", "OPS", "Op", "to_text"]
