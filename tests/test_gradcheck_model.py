"""Model objectives: total vs split losses, the input gradient, loss kinks, fixed dropout masks."""

import numpy as np
import pytest

from bpcli.gradcheck.runner import run_gradcheck
from bpcli.gradcheck.targets import model_objectives
from bpcli.spec import build_model, load_spec_text


def model_from(text, input_shape=(3,), n_classes=3):
    return build_model(load_spec_text(text), input_shape, n_classes, np.float64)


def data(n=6, d=3, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


def test_the_hinge_loss_kink_is_seen_at_the_loss_and_not_called_a_failure():
    # zero weights and delta 0: every score is 0 and every margin sits exactly on its hinge
    model = model_from("""
seed: 0
data: {type: spiral}
model: [{dense: {units: 3, init: zeros}}]
loss: {type: svm, delta: 0.0}
""")
    X, y = data()
    report = run_gradcheck(model_objectives(model, X, y), mode="full")
    W = next(c for c in report.checks if c.name == "dense1.W")
    assert report.passed and W.status == "kink" and W.kinks > 0
    sites = {site for _, crossing in W.kink_details for site in crossing.sites}
    assert sites == {"loss"}


def test_the_model_input_gradient_matches_an_independent_linear_computation():
    # softmax cross-entropy of a linear model: dL/dX = (softmax(XW + b) − onehot(y)) Wᵀ / N
    model = model_from("""
seed: 2
data: {type: spiral}
model: [{dense: 3}]
loss: softmax_cross_entropy
""")
    X, y = data()
    objective = model_objectives(model, X, y)[0]
    W, b = (model.graph.params()[k] for k in ("dense1.W", "dense1.b"))
    scores = X @ W + b
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    objective.value()
    assert objective.gradients()["input"] == pytest.approx(p @ W.T / len(y), rel=1e-10)
    assert run_gradcheck([objective], mode="full").passed


def test_total_loss_includes_regularization_and_split_separates_it():
    text = """
seed: 1
data: {type: spiral}
model: [{dense: 4}, tanh, {dropout: 0.5}, {dense: 3}]
loss: softmax_cross_entropy
regularization: {type: l2, strength: 0.3}
"""
    X, y = data()
    total = model_objectives(model_from(text), X, y)
    assert len(total) == 1
    data_part, reg_part = model_objectives(model_from(text), X, y, split=True)
    # same θ: total = data + 0.5·λ·ΣW²
    W = [a for k, a in reg_part.params.items()]
    assert total[0].value() == pytest.approx(data_part.value() + 0.5 * 0.3 * sum(float(np.sum(w * w)) for w in W))
    assert set(reg_part.params) == {"dense1.W", "dense2.W"}
    assert reg_part.gradients()["dense1.W"] == pytest.approx(0.3 * reg_part.params["dense1.W"])
    report = run_gradcheck(total + [data_part, reg_part], mode="full")
    assert report.passed and all(c.status == "ok" for c in report.checks)


def test_dropout_masks_are_held_fixed_between_evaluations():
    model = model_from("""
seed: 1
data: {type: spiral}
model: [{dense: 8}, {dropout: 0.5}, {dense: 3}]
loss: softmax_cross_entropy
""")
    X, y = data()
    objective = model_objectives(model, X, y)[0]
    first = objective.value()
    assert objective.value() == first  # the same mask again (a redrawn mask would change the loss)
    report = run_gradcheck([objective], mode="full")
    assert report.passed and all(c.status == "ok" for c in report.checks)


def test_a_float32_spec_is_checked_in_float64():
    model = build_model(load_spec_text("""
seed: 1
data: {type: spiral}
model: [{dense: 4}, {dense: 3}]
loss: softmax_cross_entropy
"""), (3,), 3, np.float32)
    X, y = data()
    objective = model_objectives(model, X, y)[0]
    assert all(a.dtype == np.float64 for a in objective.params.values())
    assert all(g.dtype == np.float64 for g in objective.gradients().values())
