"""The scalar expression engine behind `bpcli trace`: pure Python floats, no NumPy import.

`parse(text)` -> ExprGraph with `.variables`, `.evaluate(values)`, `.gradients(values)`,
`.kink_state(values)`, `.backward(values)` (a recorded Trace) and `.expanded()`.
`to_text` loads the printer on first use (PEP 562): `trace --format json` never needs it.
"""

from bpcli.expr.graph import ExprGraph, ExprNode, Trace
from bpcli.expr.ops import OPS, Op
from bpcli.expr.parse import parse  # after the import, so the name is the function

__all__ = ["parse", "ExprGraph", "ExprNode", "Trace", "OPS", "Op", "to_text"]


def __getattr__(name: str):
    if name == "to_text":
        from bpcli.expr.printer import to_text

        return to_text
    raise AttributeError(f"module 'bpcli.expr' has no attribute '{name}'")
