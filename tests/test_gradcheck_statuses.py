"""Statuses beyond ok/fail: exactly-zero gradients, kinks judged by one-sided derivatives, the
h sweep's convergence order and its agreement with the table, kinks described in words, inf/nan
reported as nonfinite."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.gradcheck.check import check_expression, check_functions, check_layer
from bpcli.gradcheck.sweep import h_sweep
from hints_catalogue import layers, broken_layers

runner = CliRunner()


def shifted_batchnorm_forward(x, b, gamma, beta):
    """batchnorm(x + b): the mean subtracts b away, so dL/db = 0 exactly."""
    return layers.batchnorm_forward(x + b, gamma, beta, {"mode": "train"})


def shifted_batchnorm_backward(dout, cache):
    dx, dgamma, dbeta = layers.batchnorm_backward(dout, cache)
    return dx, dx.sum(axis=0), dgamma, dbeta


def test_a_bias_feeding_batchnorm_gets_the_zero_status_not_a_failure():
    rng = np.random.default_rng(0)
    inputs = dict(x=rng.standard_normal((6, 4)), b=rng.standard_normal(4), gamma=rng.standard_normal(4),
                  beta=rng.standard_normal(4))
    report = check_functions(shifted_batchnorm_forward, shifted_batchnorm_backward, inputs)
    status = {c.name: c.status for c in report.checks}
    assert status == {"dx": "ok", "db": "zero", "dgamma": "ok", "dbeta": "ok"}
    assert report.passed and "zero: the loss does not depend on it" in report.verdict()


def test_a_tiny_step_is_small_not_zero():
    # every gradient below round-off because h is tiny: "small", never "zero"
    report = check_expression("x*x", {"x": 3.0}, h=1e-15)
    assert report.checks[0].status == "small"


def leaky_at_zero_backward(dout, cache):
    """relu's backward, but at exactly x = 0 it returns −dout: outside both one-sided slopes."""
    x = cache
    return dout * (x > 0) - dout * (x == 0)


def relu_at_zero_inputs():
    x = np.random.default_rng(1).standard_normal((3, 4))
    x[1, 2] = 0.0  # exactly on the kink
    return dict(x=x)


def test_at_a_kink_a_value_between_the_one_sided_derivatives_passes():
    report = check_functions(layers.relu_forward, layers.relu_backward, relu_at_zero_inputs())
    dx = report.checks[0]
    assert report.passed and dx.status == "kink" and dx.kinks == 1
    (index, lower, upper, analytic), = dx.kink_sides
    lower, upper = sorted((lower, upper))
    assert index == (1, 2) and analytic == 0.0  # relu's backward takes the slope 0 at x = 0
    assert lower <= analytic <= upper and upper - lower > 0.1  # 0 and dout[1, 2]: two real sides


def test_at_a_kink_a_value_outside_the_one_sided_derivatives_fails():
    report = check_functions(layers.relu_forward, leaky_at_zero_backward, relu_at_zero_inputs())
    dx = report.checks[0]
    assert not report.passed and dx.status == "fail" and dx.worst_index == (1, 2)
    assert "outside the one-sided derivatives" in dx.hints[0]


def test_h_sweep_states_order_two_for_a_right_gradient_and_zero_for_a_wrong_one():
    right = runner.invoke(app, ["gradcheck", "x*sigmoid(x)", "x=0.3", "--h-sweep", "--format", "json"])
    sweep = json.loads(right.stdout)["sweep"]
    assert sweep["order"] == pytest.approx(2.0, abs=0.2) and "analytic gradient is right" in sweep["order_meaning"]
    wrong = check_layer(broken_layers.HalfSquaredScale, sweep=True)
    found = wrong.report.objectives[0].sweep
    assert abs(found.order()) < 0.2 and "analytic gradient itself is wrong" in found.order_meaning()


def test_kinks_are_described_in_words():
    result = runner.invoke(app, ["gradcheck", "spiral", "--format", "json"])
    doc = json.loads(result.stdout)
    words = [d["words"] for c in doc["checks"] for d in c["kink_details"]]
    assert words, "the spiral's check crosses relu kinks"
    assert all("example" in w and ("off (≤ 0)" in w or "on (> 0)" in w) and "θ" in w for w in words), words
    assert not any("θ=True" in w or "θ=False" in w for w in words)

def gradcheck_json(*args):
    result = runner.invoke(app, ["gradcheck", *args, "--format", "json"])
    return result, (json.loads(result.stdout) if result.stdout.strip().startswith("{") else None)


# ---- the h sweep uses the table's floored relative error ----------------------------------

def test_the_sweep_agrees_with_the_table_at_the_checked_h():
    result, doc = gradcheck_json("spiral", "--h-sweep")
    sweep = doc["sweep"]
    check = next(c for c in doc["checks"] if c["name"] == sweep["name"])
    assert check["worst_index"] == sweep["where"]
    at_h = next(p for p in sweep["points"] if math.isclose(p["h"], doc["h"]))
    assert at_h["rel_error"] == pytest.approx(check["max_rel_error"], rel=1e-6)
    a = sweep["analytic"]
    for p in sweep["points"]:  # both columns recomputed from the definitions
        diff = abs(a - p["numeric"])
        assert p["raw_rel_error"] == pytest.approx(diff / max(abs(a), abs(p["numeric"])), rel=1e-9)
        assert p["rel_error"] == pytest.approx(
            diff / max(abs(a), abs(p["numeric"]), sweep["floor"]), rel=1e-9)


def test_h_sweep_floor_is_the_denominator_floor():
    steps = (1e-5, 1e-8)
    sweep = h_sweep("t", (), 1e-6, lambda h: 1e-6 + 1e-10, floor=1e-3, steps=steps)
    assert [p.rel_error for p in sweep.points] == pytest.approx([1e-10 / 1e-3] * 2)
    assert [p.raw_rel_error for p in sweep.points] == pytest.approx([1e-10 / (1e-6 + 1e-10)] * 2)


# ---- inf / nan --------------------------------------------------------------------------

def test_an_overflow_is_nonfinite_with_a_hint_not_a_wrong_gradient():
    result, doc = gradcheck_json("exp(x)", "x=1000")  # e^1000 overflows float64
    assert result.exit_code == 1
    x = doc["checks"][0]
    assert x["status"] == "nonfinite" and x["analytic"] == "inf"
    assert any("inf" in h and "overflow" in h and "lower the input scale" in h for h in x["hints"])
    assert "not finite" in doc["verdict"] and "wrong" not in doc["verdict"]
    rich = runner.invoke(app, ["gradcheck", "exp(x)", "x=1000"])
    assert rich.exit_code == 1 and "nonfinite" in rich.stdout and "overflow" in rich.stdout


def test_a_finite_expression_next_to_it_is_still_judged():
    result, doc = gradcheck_json("exp(x) + y*y", "x=1000", "y=3")
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["x"]["status"] == "nonfinite" and result.exit_code == 1
    assert checks["y"]["analytic"] == pytest.approx(6.0)
