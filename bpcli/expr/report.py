"""Everything `bpcli trace` shows, computed once: inputs, the recorded trace, numerical checks.

Renderers read a TraceReport; they never compute gradients themselves.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

from bpcli.assignments import NUMBERS
from bpcli.errors import UsageError, did_you_mean
from bpcli.expr.graph import NAMED_CONSTANTS, ExprGraph, Trace, number_text
from bpcli.expr.parse import parse
from bpcli.expr.values import is_tensor_text

MAX_NODES = 1_000_000
CHECK_BUDGET = 2_000_000  # node evaluations the central-difference check may spend
DRAW_RANGE = (-3.0, 3.0)


class GradientCheck:
    """One variable's backprop gradient beside its central difference."""

    __slots__ = ("name", "analytic", "numeric", "rel_error", "at_kink")

    def __init__(self, name: str, analytic: float, numeric: float, rel_error: float, at_kink: bool):
        self.name = name
        self.analytic = analytic
        self.numeric = numeric
        self.rel_error = rel_error
        self.at_kink = at_kink  # a relu/abs/max/min gate switched sides between x-h and x+h

    @property
    def status(self) -> str:
        if not (math.isfinite(self.analytic) and math.isfinite(self.numeric)):
            return "nan/inf"
        if self.rel_error <= 1e-5:
            return "ok"
        return "kink" if self.at_kink else "MISMATCH"


class TraceReport:
    """The result of tracing an expression at given (and drawn) values.

    A plain class, like the graph's: `bpcli trace` start-up pays for every dataclass built.
    """

    def __init__(
        self,
        expression: str,
        graph: ExprGraph,
        trace: Trace,
        inputs: dict[str, float],
        drawn: list[str],  # variables given no value, drawn with `seed`
        seed: int,
        expanded: bool,
        checks: Optional[list[GradientCheck]],  # None when the check would cost too much
        notes: Optional[list[str]] = None,
    ):
        self.expression = expression
        self.graph = graph
        self.trace = trace
        self.inputs = inputs
        self.drawn = drawn
        self.seed = seed
        self.expanded = expanded
        self.checks = checks
        self.notes: list[str] = notes if notes is not None else []

    @property
    def warnings(self) -> list[str]:
        return self.trace.warnings

    @property
    def uses(self) -> dict[str, int]:
        """How many gate inputs each variable feeds (2+ means its gradient is a sum)."""
        return variable_uses(self.graph)


def variable_uses(graph: ExprGraph) -> dict[str, int]:
    """How many gate inputs each variable of `graph` feeds (2+ means its gradient is a sum)."""
    counts = {name: 0 for name in graph.variables}
    ids = {i: name for name, i in graph.variable_ids.items()}
    for node in graph.nodes:
        for child in node.inputs:
            if child in ids:
                counts[ids[child]] += 1
    return counts


def check_assignment(graph: ExprGraph, name: str, given) -> None:
    """A UsageError unless `name` is a variable of `graph` not yet in `given`."""
    if name in NAMED_CONSTANTS:
        raise UsageError(
            f"'{name}' is a constant ({name} = {NAMED_CONSTANTS[name]!r}), not a variable: "
            "it cannot be given a value; rename the variable"
        )
    if name not in graph.variable_ids:
        used = ", ".join(graph.variables) or "none"
        raise UsageError(
            f"'{name}' is not a variable of the expression{did_you_mean(name, graph.variables)}; "
            f"its variables: {used}"
        )
    if name in given:
        raise UsageError(f"'{name}' is given twice")


def resolve_inputs(
    graph: ExprGraph, assignments: Iterable[tuple[str, str]], seed: int
) -> tuple[dict[str, float], list[str]]:
    """Given values by name, then seeded draws (2 decimals) for the rest, in variable order."""
    given: dict[str, float] = {}
    for name, text in assignments:
        check_assignment(graph, name, given)
        given[name] = NUMBERS.parse(name, text)
    rng = None
    inputs: dict[str, float] = {}
    drawn: list[str] = []
    for name in graph.variables:
        if name in given:
            inputs[name] = given[name]
        else:
            if rng is None:
                import random  # only when something is drawn

                rng = random.Random(seed)
            inputs[name] = round(rng.uniform(*DRAW_RANGE), 2)
            drawn.append(name)
    return inputs, drawn


def needs_tensors(graph: ExprGraph, assignments: Iterable[tuple[str, str]]) -> bool:
    """Whether a trace needs the tensor engine: a tensor value, or a gate only tensors have."""
    return bool(graph.tensor_gates) or any(is_tensor_text(text) for _, text in assignments)


def central_differences(
    graph: ExprGraph, inputs: dict[str, float], gradients: dict[str, float]
) -> list[GradientCheck]:
    """(f(v+h) - f(v-h)) / 2h for every variable, h = 1e-5·max(1, |v|), beside backprop's value."""
    checks = []
    base_kinks = None
    for name in graph.variables:
        value = inputs[name]
        h = 1e-5 * max(1.0, abs(value))
        plus, minus = dict(inputs), dict(inputs)
        plus[name], minus[name] = value + h, value - h
        f_plus, f_minus = graph.evaluate(plus), graph.evaluate(minus)
        numeric = (f_plus - f_minus) / (2 * h)
        analytic = gradients[name]
        scale = max(abs(analytic), abs(numeric))
        if not (math.isfinite(analytic) and math.isfinite(numeric)):
            rel = math.nan
        else:
            rel = 0.0 if scale == 0 else abs(analytic - numeric) / scale
        at_kink = False
        if rel > 1e-5:
            if base_kinks is None:
                base_kinks = graph.kink_state(inputs)
            at_kink = (
                graph.kink_state(plus) != graph.kink_state(minus)
                or graph.kink_state(plus) != base_kinks
            )
        checks.append(GradientCheck(name, analytic, numeric, rel, at_kink))
    return checks


def undefined_gradient_notes(graph: ExprGraph, trace: Trace) -> list[str]:
    """One note when backprop's gradient is nan/inf at a finite f because a gate's local gradient
    is infinite here (sqrt or log at 0): the chain rule has no derivative to give at this point."""
    undefined = [name for name, g in trace.gradients.items() if not math.isfinite(g)]
    if not undefined or not math.isfinite(trace.output):
        return []
    for step in trace.steps:
        node = graph.nodes[step.node]
        inputs = [trace.values[i] for i in node.inputs]
        singular = next((s for s in step.inputs if not math.isfinite(s.local)), None)
        if singular is not None and all(math.isfinite(v) for v in inputs):
            at = ", ".join(number_text(v) for v in inputs)
            grads = ", ".join(f"∂f/∂{name}" for name in undefined)
            return [f"{grads} {'is' if len(undefined) == 1 else 'are'} undefined at this point: gate "
                    f"{graph.label(step.node)} ({node.op}) has local gradient {singular.local} at input {at}, "
                    "so the chain rule cannot give a number here (f may have no derivative at this point)"]
    return []


def trace_expression(
    text: str,
    assignments: Iterable[tuple[str, str]] = (),
    *,
    seed: int = 0,
    expand: bool = False,
    check: bool = True,
    dout: Optional[str] = None,
    jacobian_limit: Optional[int] = None,
):
    """Parse, resolve inputs, run forward + recorded backward, and check against central differences.

    Scalars give a TraceReport (pure Python); a tensor value or a tensor gate (`@`, `.T`,
    `sum(x, axis=1)`, `s[y]` ...) gives a TensorTraceReport (`bpcli.expr.tensor_trace`).
    """
    graph = parse(text)
    assignments = list(assignments)
    if needs_tensors(graph, assignments) or dout is not None or jacobian_limit is not None:
        if len(graph) > MAX_NODES:
            raise UsageError(f"expression too large: {len(graph):,} nodes (limit {MAX_NODES:,})")
        from bpcli.expr.tensor_trace import trace_tensors

        return trace_tensors(graph, text, assignments, seed=seed, expand=expand, check=check,
                             dout=dout, jacobian_limit=jacobian_limit)
    if len(graph) > MAX_NODES:
        raise UsageError(f"expression too large: {len(graph):,} nodes (limit {MAX_NODES:,})")
    inputs, drawn = resolve_inputs(graph, assignments, seed)
    notes = []
    if expand:
        graph = graph.expanded()
        if len(graph) > MAX_NODES:
            raise UsageError(
                f"expanded expression too large: {len(graph):,} nodes (limit {MAX_NODES:,})"
            )
    trace = graph.backward(inputs)
    notes.extend(undefined_gradient_notes(graph, trace))
    checks = None
    if check:
        cost = 2 * len(graph) * max(1, len(graph.variables))
        if cost <= CHECK_BUDGET:
            checks = central_differences(graph, inputs, trace.gradients)
        else:
            notes.append(
                f"numerical check skipped: {len(graph.variables):,} variables × {len(graph):,} nodes "
                "is too many evaluations"
            )
    return TraceReport(text, graph, trace, inputs, drawn, seed, expand, checks, notes)
