"""The expression graph: nodes in a repeatable topological order, forward, recorded backward.

Nodes are created inputs-first (the parser emits them in postfix order), so the node list
*is* a topological order and reversing it is a valid backward order. Every walk here is a
plain loop over that list: no recursion, whatever the depth of the expression.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Optional

from bpcli.errors import ExprError
from bpcli.expr.interpret import PYTHON, BackwardStep, InputStep, backward, forward
from bpcli.expr.ops import OPS

__all__ = ["ExprGraph", "ExprNode", "GraphBuilder", "Trace", "InputStep", "BackwardStep"]

VARIABLE = "var"
CONSTANT = "const"

# Names that are constants, never variables: `e^x`, `2*pi*r`. Giving one a value is an error.
NAMED_CONSTANTS = {"e": math.e, "pi": math.pi}


# Plain slotted classes, not dataclasses: `bpcli trace` start-up pays for every class
# a decorator builds at import time.


class ExprNode:
    """One node: a variable (`name`), a constant (`constant`) or a gate (`op` over `inputs`)."""

    __slots__ = ("id", "op", "inputs", "name", "constant", "options", "column")

    def __init__(
        self,
        id: int,
        op: str,
        inputs: tuple[int, ...] = (),
        name: str = "",
        constant: float = 0.0,
        options: Optional[dict] = None,
        column: Optional[int] = None,
    ):
        self.id = id
        self.op = op  # "var", "const" or a key of OPS
        self.inputs = inputs
        self.name = name
        self.constant = constant
        self.options = options or {}  # keyword options of the gate: sum(x, axis=1)
        self.column = column  # where its operator stands in the text (for a caret), if parsed

    @property
    def is_leaf(self) -> bool:
        return self.op == VARIABLE or self.op == CONSTANT

    def __repr__(self) -> str:
        return f"ExprNode({self.id}, {self.op!r}, {self.inputs}, {self.name!r}, {self.constant})"


class Trace:
    """A forward and a recorded backward pass of an ExprGraph at given values."""

    __slots__ = ("graph", "values", "grads", "steps", "warnings")

    def __init__(
        self,
        graph: "ExprGraph",
        values: list[float],
        grads: list[Optional[float]],  # None for constants (they need no gradient)
        steps: list[BackwardStep],
        warnings: Optional[list[str]] = None,
    ):
        self.graph = graph
        self.values = values
        self.grads = grads
        self.steps = steps
        self.warnings: list[str] = warnings if warnings is not None else []

    @property
    def output(self) -> float:
        return self.values[self.graph.output]

    @property
    def gradients(self) -> dict[str, float]:
        return {name: self.grads[i] for name, i in self.graph.variable_ids.items()}


class GraphBuilder:
    """Appends nodes inputs-first; one node per distinct variable name."""

    def __init__(self) -> None:
        self.nodes: list[ExprNode] = []
        self.variable_ids: dict[str, int] = {}

    def variable(self, name: str) -> int:
        found = self.variable_ids.get(name)
        if found is not None:
            return found
        node_id = len(self.nodes)
        self.nodes.append(ExprNode(node_id, VARIABLE, (), name))
        self.variable_ids[name] = node_id
        return node_id

    def constant(self, value: float, name: str = "") -> int:
        """A constant node; `name` is set for the named constants e and pi."""
        node_id = len(self.nodes)
        self.nodes.append(ExprNode(node_id, CONSTANT, (), name, float(value)))
        return node_id

    def gate(
        self,
        op: str,
        inputs: tuple[int, ...],
        options: Optional[dict] = None,
        column: Optional[int] = None,
    ) -> int:
        node_id = len(self.nodes)
        self.nodes.append(ExprNode(node_id, op, tuple(inputs), options=options, column=column))
        return node_id

    def build(self, output: int, text: str) -> "ExprGraph":
        return ExprGraph(self.nodes, output, text, self.variable_ids)


def number_text(value: float) -> str:
    """A constant as tables name it: 3, 0.5, 1e+300; inf and nan as themselves."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class ExprGraph:
    """A parsed expression. `variables` are in first-appearance order."""

    def __init__(self, nodes: list[ExprNode], output: int, text: str, variable_ids: dict[str, int]):
        self.nodes = nodes
        self.output = output
        self.text = text
        self.variable_ids = dict(variable_ids)
        self.variables: list[str] = list(variable_ids)
        # gates with no scalar (pure Python) forward: @, .T, sum(x, axis=..), s[y], softmax ...
        self.tensor_gates = [n.id for n in nodes if n.inputs and OPS[n.op].tensor_only]

    def __len__(self) -> int:
        return len(self.nodes)

    # ---- evaluation ----------------------------------------------------------------------

    def _check_values(self, values: Mapping[str, float]) -> None:
        for name in self.variables:
            if name not in values:
                raise ExprError(f"no value given for variable '{name}'", self.text)

    def forward(self, values: Mapping[str, float]) -> list[float]:
        """The value of every node, in node order."""
        self._check_values(values)
        if self.tensor_gates:
            node = self.nodes[self.tensor_gates[0]]
            op = OPS[node.op]
            raise ExprError(
                f"'{op.symbol or op.call}' works on vectors and matrices, not on scalars",
                self.text,
                node.column,
            )
        return forward(self, lambda node: float(values[node.name]) if node.op == VARIABLE else node.constant)

    def evaluate(self, values: Mapping[str, float]) -> float:
        """f at `values` ({name: number})."""
        return self.forward(values)[self.output]

    def gradients(self, values: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        """(f, {variable: ∂f/∂variable}) by one forward and one backward pass."""
        trace = self.backward(values, record=False)
        return trace.output, trace.gradients

    def backward(self, values: Mapping[str, float], record: bool = True) -> Trace:
        """Forward, then backward in reverse topological order, recording every step."""
        vals = self.forward(values)
        grads, steps = backward(self, vals, 1.0, PYTHON, record)
        trace = Trace(self, vals, grads, steps)
        trace.warnings = numerical_warnings(self, vals, steps) if record else []
        return trace

    def kink_state(self, values: Mapping[str, float]) -> tuple:
        """Which side of its kink every relu/abs/max/min gate is on, in node order."""
        vals = self.forward(values)
        sides = []
        for node in self.nodes:
            if not node.is_leaf and OPS[node.op].kink is not None:
                sides.append(OPS[node.op].kink([vals[i] for i in node.inputs]))
        return tuple(sides)

    # ---- structure and presentation -----------------------------------------------------

    def structure(self) -> list[tuple]:
        """The graph as plain tuples (for equality: same structure = same graph)."""
        return [(n.op, n.inputs, n.name, n.constant, sorted(n.options.items())) for n in self.nodes] + [
            ("output", self.output)
        ]

    def label(self, node_id: int) -> str:
        """How a node is named in tables: the variable name, the constant, or n<id>."""
        node = self.nodes[node_id]
        if node.op == VARIABLE:
            return node.name
        if node.op == CONSTANT:
            return node.name or number_text(node.constant)
        return f"n{node_id}"

    def gate_label(self, node_id: int) -> str:
        """The gate as the lecture draws it: `*-1`, `+1`, `1/x`, `exp`, `max` ..."""
        node = self.nodes[node_id]
        if node.is_leaf:
            return node.op
        op = OPS[node.op]
        if op.gate_label:
            return op.gate_label
        constant = self.constant_input(node_id) if op.constant_label else None
        if constant is not None:
            named = [self.nodes[i].name for i in node.inputs if self.nodes[i].op == CONSTANT]
            return f"{op.symbol}{named[0] or number_text(constant)}"
        return op.symbol or node.op

    def role(self, node_id: int) -> str:
        """The gate's part in the backward flow, "short: explanation" (`*-1` flips, `*3` scales)."""
        op = OPS[self.nodes[node_id].op]
        constant = self.constant_input(node_id) if op.constant_role is not None else None
        return op.role if constant is None else op.constant_role(constant)

    def constant_input(self, node_id: int) -> Optional[float]:
        """The constant of a two-input gate whose other input is not a constant, else None."""
        inputs = self.nodes[node_id].inputs
        if len(inputs) != 2:
            return None
        left, right = self.nodes[inputs[0]], self.nodes[inputs[1]]
        if (left.op == CONSTANT) == (right.op == CONSTANT):
            return None
        return left.constant if left.op == CONSTANT else right.constant

    def expanded(self) -> "ExprGraph":
        """A copy with composite gates (sigmoid, tanh) replaced by their primitive gates."""
        builder = GraphBuilder()
        new_id: list[int] = [0] * len(self.nodes)
        for node in self.nodes:
            if node.op == VARIABLE:
                new_id[node.id] = builder.variable(node.name)
            elif node.op == CONSTANT:
                new_id[node.id] = builder.constant(node.constant, node.name)
            else:
                inputs = tuple(new_id[i] for i in node.inputs)
                expansion = OPS[node.op].expansion
                if expansion is not None:
                    new_id[node.id] = expansion(builder, *inputs)
                else:
                    new_id[node.id] = builder.gate(node.op, inputs, node.options, node.column)
        return builder.build(new_id[self.output], self.text)


def numerical_warnings(
    graph: ExprGraph, values: list[float], steps: Iterable[BackwardStep], limit: int = 20
) -> list[str]:
    """One line per gate where nan/inf *starts*: its inputs were finite, its result is not."""
    isfinite = math.isfinite
    found: list[str] = []
    count = 0
    for node in graph.nodes:
        if node.is_leaf or isfinite(values[node.id]):
            continue
        if all(isfinite(values[i]) for i in node.inputs):
            count += 1
            if len(found) < limit:
                args = ", ".join(
                    number_text(values[i]) if isfinite(values[i]) else str(values[i])
                    for i in node.inputs
                )
                found.append(
                    f"gate {graph.label(node.id)} ({node.op}) gives {values[node.id]} at input {args}"
                )
    for step in steps:
        if not isfinite(step.upstream):
            continue
        for sent in step.inputs:
            if not isfinite(sent.local) or not isfinite(sent.sent):
                args = [values[i] for i in graph.nodes[step.node].inputs]
                if not all(isfinite(a) for a in args):
                    continue
                count += 1
                if len(found) < limit:
                    found.append(
                        f"gate {graph.label(step.node)} ({graph.nodes[step.node].op}): local gradient "
                        f"for {graph.label(sent.node)} is {sent.local} (sent {sent.sent})"
                    )
    if count > limit:
        found.append(f"... and {count - limit} more gates with nan/inf")
    return found
