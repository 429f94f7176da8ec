"""Property test (hypothesis): random tensor expressions over compatible random shapes.

Each generated expression carries its own NumPy evaluator, so the engine's forward is checked
against something it did not compute, and backprop's gradients against central differences
of that evaluator (every entry, float64).
"""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bpcli.expr.report import trace_expression

# Every expression has shape (N, C); leaves: A, B (N, C), v (C,) broadcast along rows,
# M (C, C) through @, s a scalar.
UNARY = {
    "tanh": np.tanh,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "sin": np.sin,
    "exp": lambda a: np.exp(np.clip(a, -30, 30)) if np.all(np.abs(a) <= 30) else a * np.nan,
}
BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply}

matrices = st.sampled_from(["A", "B"]).map(lambda n: (n, lambda env, n=n: env[n]))


def _extend(children):
    unary = st.tuples(st.sampled_from(sorted(UNARY)), children).map(
        lambda t: (f"{t[0]}({t[1][0]})", lambda env, f=UNARY[t[0]], g=t[1][1]: f(g(env))))
    partner = st.one_of(children, st.sampled_from(["v", "s"]).map(lambda n: (n, lambda env, n=n: env[n])))
    binary = st.tuples(st.sampled_from(sorted(BINARY)), children, partner).map(
        lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})",
                   lambda env, f=BINARY[t[0]], g=t[1][1], h=t[2][1]: f(g(env), h(env))))
    product = children.map(lambda t: (f"(({t[0]})@M)", lambda env, g=t[1]: g(env) @ env["M"]))
    transposed = children.map(lambda t: (f"(({t[0]}).T).T", lambda env, g=t[1]: g(env)))
    return st.one_of(unary, binary, product, transposed)


bodies = st.recursive(matrices, _extend, max_leaves=6)
REDUCTIONS = {
    "sum": lambda a: np.sum(a),
    "mean": lambda a: np.mean(a),
    "sum1": lambda a: np.sum(a, axis=1),
    "lse": lambda a: np.log(np.sum(np.exp(a - a.max(axis=1, keepdims=True)), axis=1)) + a.max(axis=1),
    "none": lambda a: a,
}
TEXT = {"sum": "sum({})", "mean": "mean({})", "sum1": "sum({}, axis=1)", "lse": "logsumexp({})", "none": "{}"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(bodies, st.sampled_from(sorted(REDUCTIONS)), st.integers(1, 4), st.integers(1, 4), st.integers(0, 10_000))
def test_random_tensor_expressions_match_central_differences(body, reduction, n, c, seed):
    text = TEXT[reduction].format(body[0])
    rng = np.random.default_rng(seed)
    env = {"A": rng.uniform(-2, 2, (n, c)), "B": rng.uniform(-2, 2, (n, c)), "v": rng.uniform(-2, 2, c),
           "M": rng.uniform(-1, 1, (c, c)), "s": np.array(round(float(rng.uniform(-2, 2)), 2))}

    def evaluate(values):
        with np.errstate(all="ignore"):
            return REDUCTIONS[reduction](body[1](values))

    expected = evaluate(env)
    assume(np.all(np.isfinite(expected)) and np.max(np.abs(expected)) < 1e6)
    used = [name for name in env if name in _names(text)]
    report = trace_expression(text, [(k, json.dumps(env[k].tolist())) for k in used], check=False)
    np.testing.assert_allclose(report.output, expected, rtol=1e-9, atol=1e-12)
    dout = np.ones(np.shape(expected))
    for name in used:
        value = env[name]
        numeric = np.zeros(value.shape)
        for j in range(value.size):
            plus, minus = dict(env), dict(env)
            plus[name], minus[name] = value.copy(), value.copy()
            plus[name].flat[j] += 1e-6
            minus[name].flat[j] -= 1e-6
            numeric.flat[j] = np.sum((evaluate(plus) - evaluate(minus)) * dout) / 2e-6
        scale = max(1.0, float(np.max(np.abs(numeric))))
        np.testing.assert_allclose(report.gradients[name], numeric, rtol=1e-5, atol=1e-6 * scale,
                                   err_msg=f"{text}: d{name}")


def _names(text: str) -> set:
    import re

    return set(re.findall(r"[A-Za-z_]\w*", text))
