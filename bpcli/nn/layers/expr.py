"""The `expr` layer: an elementwise activation written as an expression of x.

`{type: expr, f: "x * sigmoid(x)"}` parses f with the same parser and op table as
`bpcli trace` and runs it through the same interpreter (`bpcli.expr.interpret`), with the
op table's NumPy column: elementwise forwards and partials over arrays.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bpcli.errors import ExprError, SpecError, SpecProblem
from bpcli.expr.graph import CONSTANT, VARIABLE
from bpcli.expr.interpret import NUMPY, backward, forward
from bpcli.expr.ops import OPS
from bpcli.expr.parse import parse
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import no_cache

VARIABLE_NAME = "x"


@LAYERS.register("expr")
class Expr(Layer):
    """out = f(x) elementwise, any shape (N, ...) -> (N, ...); dx = dout · f'(x) by backprop through f."""

    shorthand = "f"
    examples = (
        ({"f": "x * sigmoid(x)"}, (5,)),
        ({"f": "relu(x) + 0.1*x"}, (2, 3, 3)),
        ({"f": "max(x, x**2 - 1) * tanh(x/2) + abs(x)"}, (6,)),
        ({"f": "x*x*x - 2*x"}, (4,)),
    )

    def __init__(self, *, f: str = "x"):
        super().__init__()
        try:
            self.graph = parse(f)
        except ExprError as err:
            where = f" (column {err.column + 1})" if err.column is not None else ""
            raise SpecError(SpecProblem(f"expr: f {err.message}{where}: {f!r}", path="f")) from None
        tensor_gates = [n for n in self.graph.nodes if n.inputs and OPS[n.op].tensor_only]
        if tensor_gates:
            raise SpecError(
                SpecProblem(
                    f"expr: f must work entry by entry; '{OPS[tensor_gates[0].op].call}' mixes entries "
                    f"(use a layer for it): {f!r}",
                    path="f",
                )
            )
        others = [v for v in self.graph.variables if v != VARIABLE_NAME]
        if others:
            raise SpecError(
                SpecProblem(
                    f"expr: f may use only the variable x, got {', '.join(others)}: {f!r}", path="f"
                )
            )
        self.f = f
        nodes = self.graph.nodes
        # which nodes depend on x (only they need gradients)
        self._depends = [False] * len(nodes)
        for node in nodes:
            self._depends[node.id] = node.op == VARIABLE or any(
                self._depends[i] for i in node.inputs
            )
        self._values: Optional[list[Any]] = None

    def _forward_values(self, x: np.ndarray) -> list[Any]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return forward(self.graph, lambda node: x if node.op == VARIABLE else node.constant, NUMPY)

    def forward(self, x: np.ndarray) -> np.ndarray:
        values = self._forward_values(x)
        self._values = values if self.training else None
        out = values[self.graph.output]
        if out is x or np.shape(out) != x.shape:
            out = np.broadcast_to(np.asarray(out, dtype=x.dtype), x.shape).copy()
        return out.astype(x.dtype, copy=False)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        values = self._values
        if values is None:
            raise no_cache(self)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            grads, _ = backward(self.graph, values, dout, NUMPY, record=False, needs=self._depends)
        x_id = self.graph.variable_ids.get(VARIABLE_NAME)
        dx = grads[x_id] if x_id is not None else None
        if dx is None:
            return np.zeros_like(dout)
        if dx is dout or np.shape(dx) != dout.shape:
            dx = np.broadcast_to(dx, dout.shape).copy()
        return dx.astype(dout.dtype, copy=False)

    def kink_state(self) -> Optional[np.ndarray]:
        """The side of every relu/abs/max/min gate, stacked: (n_kinky_gates, N, ...) int8."""
        values = self._values
        if values is None:
            return None
        x = (
            values[self.graph.variable_ids[VARIABLE_NAME]]
            if VARIABLE_NAME in self.graph.variable_ids
            else None
        )
        sides = []
        for node in self.graph.nodes:
            if node.inputs and OPS[node.op].np_kink is not None and self._depends[node.id]:
                side = OPS[node.op].np_kink([np.asarray(values[i]) for i in node.inputs])
                sides.append(np.broadcast_to(side, np.shape(x)))
        return np.stack(sides) if sides else None
