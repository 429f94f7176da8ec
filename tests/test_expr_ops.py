"""Every op in the op table: local partials against central differences, Python and NumPy agree."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from bpcli.expr.ops import OPS, safe_div, safe_exp, safe_log, safe_pow, safe_sqrt, sigmoid

POINTS = 40
H = 1e-6
SCALAR_OPS = [name for name, op in OPS.items() if not op.tensor_only]  # tensor gates: test_tensor_ops


def _arity(op):
    return op.arity if op.arity else len(op.domain)


def _sample(op, rng):
    """Points in the op's domain whose ±h box does not cross a kink."""
    found = []
    while len(found) < POINTS:
        args = [rng.uniform(lo, hi) for lo, hi in op.domain[: _arity(op)]]
        if op.kink is not None:
            side = op.kink(args)
            crossed = False
            for i in range(len(args)):
                for step in (-1e-3, 1e-3):
                    moved = list(args)
                    moved[i] += step
                    crossed |= op.kink(moved) != side
            if crossed:
                continue
        found.append(args)
    return found


@pytest.mark.parametrize("name", SCALAR_OPS)
def test_local_partials_match_central_differences(name):
    op = OPS[name]
    rng = random.Random(sum(map(ord, name)))
    for args in _sample(op, rng):
        out = op.forward(*args)
        for i in range(len(args)):
            plus, minus = list(args), list(args)
            plus[i] += H
            minus[i] -= H
            numeric = (op.forward(*plus) - op.forward(*minus)) / (2 * H)
            analytic = op.local(i, args, out)
            assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-7), (name, args, i)


@pytest.mark.parametrize("name", SCALAR_OPS)
def test_numpy_forward_and_partials_agree_with_python(name):
    op = OPS[name]
    points = _sample(op, random.Random(7))
    arrays = [np.array(column, dtype=np.float64) for column in zip(*points)]
    out = op.np_forward(*arrays)
    expected = [op.forward(*args) for args in points]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)
    for i in range(len(arrays)):
        local = np.broadcast_to(op.np_local(i, arrays, out), out.shape)
        expected_local = [op.local(i, args, op.forward(*args)) for args in points]
        np.testing.assert_allclose(local, expected_local, rtol=1e-12, atol=1e-15)
        if op.np_kink is not None:
            np.testing.assert_array_equal(op.np_kink(arrays), [op.kink(a) for a in points])


@pytest.mark.parametrize("name", [n for n in SCALAR_OPS if OPS[n].expansion is not None])
def test_expansions_compute_the_same_function(name):
    from bpcli.expr.graph import GraphBuilder

    builder = GraphBuilder()
    x = builder.variable("x")
    expanded = builder.build(OPS[name].expansion(builder, x), name)
    assert len(expanded.nodes) > 2
    for value in (-2.5, -0.3, 0.0, 0.7, 3.1):
        assert expanded.evaluate({"x": value}) == pytest.approx(
            OPS[name].forward(value), rel=1e-12, abs=1e-15
        )


def test_scalar_forwards_follow_ieee_instead_of_raising():
    assert math.isnan(safe_log(-1.0)) and safe_log(0.0) == -math.inf
    assert safe_div(1.0, 0.0) == math.inf and safe_div(-1.0, 0.0) == -math.inf
    assert math.isnan(safe_div(0.0, 0.0))
    assert math.isnan(safe_sqrt(-4.0))
    assert safe_exp(1000.0) == math.inf
    assert math.isnan(safe_pow(-8.0, 1 / 3)) and safe_pow(0.0, -1.0) == math.inf
    assert safe_pow(10.0, 400.0) == math.inf and safe_pow(-10.0, 401.0) == -math.inf
    assert sigmoid(-1000.0) == 0.0 and sigmoid(1000.0) == 1.0


def test_max_and_min_route_to_the_first_winner():
    assert (
        OPS["max"].local(0, [2.0, 2.0], 2.0) == 1.0 and OPS["max"].local(1, [2.0, 2.0], 2.0) == 0.0
    )
    assert OPS["min"].local(2, [3.0, 1.0, -1.0], -1.0) == 1.0
