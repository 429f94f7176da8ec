"""Property tests over random expressions from the grammar (hypothesis).

Each generated expression comes with its own independent evaluator (plain Python math), so the
parser's value, backprop's gradients (vs central differences) and the printer's round trip are
all checked against something the engine did not compute.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bpcli.expr import parse, to_text
from bpcli.expr.report import undefined_gradient_notes

VARIABLES = ("a", "b", "c")
LIMIT = 1e3  # keep values moderate so central differences are accurate


def _guard(value: float) -> float:
    if not math.isfinite(value) or abs(value) > LIMIT:
        raise ArithmeticError
    return value


def _sig(v):
    return 1 / (1 + math.exp(-v)) if v > -700 else 0.0


UNARY = {
    "exp": lambda v: math.exp(min(v, 50)) if v <= 50 else _guard(math.inf),
    "log": lambda v: math.log(v) if v > 0 else _guard(math.nan),
    "sqrt": lambda v: math.sqrt(v) if v >= 0 else _guard(math.nan),
    "abs": abs,
    "sin": math.sin,
    "cos": math.cos,
    "tanh": math.tanh,
    "sigmoid": _sig,
    "relu": lambda v: max(v, 0.0),
}
BINARY = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "/": lambda x, y: x / y if y != 0 else _guard(math.nan),
    "**": lambda x, y: x**y if x > 0 else _guard(math.nan),
}

leaves = st.one_of(
    st.sampled_from(VARIABLES).map(lambda n: (n, lambda vals, n=n: vals[n])),
    st.sampled_from([0.5, 1, 2, 3, 1.5, 0.25]).map(lambda c: (repr(c), lambda vals, c=c: float(c))),
)


def _extend(children):
    unary = st.tuples(st.sampled_from(sorted(UNARY)), children).map(
        lambda t: (f"{t[0]}({t[1][0]})", lambda vals, f=UNARY[t[0]], g=t[1][1]: f(g(vals)))
    )
    neg = children.map(
        lambda t: (f"(-({t[0]}))", lambda vals, g=t[1]: -g(vals))
    )  # an atom, like the rest
    binary = st.tuples(st.sampled_from(sorted(BINARY)), children, children, st.booleans()).map(
        lambda t: (
            f"({t[1][0]}{' ' if t[3] else ''}{'^' if t[0] == '**' and t[3] else t[0]}{t[2][0]})",
            lambda vals, f=BINARY[t[0]], g=t[1][1], h=t[2][1]: f(g(vals), h(vals)),
        )
    )
    variadic = st.tuples(
        st.sampled_from(["max", "min"]), st.lists(children, min_size=2, max_size=3)
    ).map(
        lambda t: (
            f"{t[0]}({', '.join(c[0] for c in t[1])})",
            lambda vals, f={"max": max, "min": min}[t[0]], gs=[c[1] for c in t[1]]: f(
                g(vals) for g in gs
            ),
        )
    )
    return st.one_of(unary, neg, binary, variadic)


expressions = st.recursive(leaves, _extend, max_leaves=12)
# a grid of moderate values (subnormal inputs would make any float64 backprop meaningless)
points = st.fixed_dictionaries(
    {n: st.integers(-2500, 2500).map(lambda k: k / 1000) for n in VARIABLES}
)


def _reference(fn, vals):
    try:
        return _guard(float(fn(vals)))
    except (ArithmeticError, ValueError, OverflowError):
        return None


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(expressions, points)
def test_parser_value_matches_an_independent_evaluation(expression, vals):
    text, fn = expression
    expected = _reference(fn, vals)
    assume(expected is not None)
    graph = parse(text)
    used = {n: vals[n] for n in graph.variables}
    assert math.isclose(graph.evaluate(used), expected, rel_tol=1e-9, abs_tol=1e-12)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(expressions, points)
@example(("(-(sqrt((a*a))))", lambda vals: -math.sqrt(vals["a"] * vals["a"])), {"a": 0.0, "b": 0.0, "c": 0.0})
def test_gradients_match_central_differences(expression, vals):
    text, fn = expression
    graph = parse(text)
    used = {n: vals[n] for n in graph.variables}
    assume(_reference(fn, vals) is not None)
    trace = graph.backward(used)
    if any(not math.isfinite(s.local) for step in trace.steps for s in step.inputs):
        # A singular local gradient (sqrt or log at 0): the chain rule has no number to give here
        # (-(sqrt(a*a)) at a = 0 is -|a| at its corner: inf × 0 = nan). The trace must say so.
        if not all(math.isfinite(g) for g in trace.gradients.values()):
            assert undefined_gradient_notes(graph, trace), text
        return
    grads = trace.gradients
    kinks = graph.kink_state(used)
    for name in graph.variables:
        estimates = []
        for h in (1e-5, 1e-6):
            plus, minus = dict(used), dict(used)
            plus[name] += h
            minus[name] -= h
            f_plus, f_minus = _reference(fn, plus), _reference(fn, minus)
            assume(f_plus is not None and f_minus is not None)
            assume(graph.kink_state(plus) == kinks == graph.kink_state(minus))
            estimates.append((f_plus - f_minus) / (2 * h))
        # where the two step sizes disagree the function is too curved here to judge
        assume(abs(estimates[0] - estimates[1]) <= 1e-6 * max(1.0, abs(estimates[0])))
        assert math.isclose(grads[name], estimates[1], rel_tol=1e-4, abs_tol=1e-5), (text, name)


@settings(max_examples=200, deadline=None)
@given(expressions)
def test_printing_and_parsing_back_gives_the_same_graph(expression):
    text, _ = expression
    graph = parse(text)
    printed = to_text(graph)
    again = parse(printed)
    assert again.structure() == graph.structure()
    assert to_text(again) == printed


@settings(max_examples=100, deadline=None)
@given(expressions, points)
def test_expanded_graph_has_the_same_value_and_gradients(expression, vals):
    text, fn = expression
    assume(_reference(fn, vals) is not None)
    graph = parse(text)
    used = {n: vals[n] for n in graph.variables}
    value, grads = graph.gradients(used)
    value_e, grads_e = graph.expanded().gradients(used)
    assert math.isclose(value_e, value, rel_tol=1e-9, abs_tol=1e-12)
    for name in grads:
        if math.isfinite(grads[name]):
            assert math.isclose(grads_e[name], grads[name], rel_tol=1e-7, abs_tol=1e-9), (
                text,
                name,
            )
