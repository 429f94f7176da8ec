"""Model: graph + loss + regularization; LossParts and gradients of the total loss."""

from __future__ import annotations

import math

import numpy as np
import pytest

import bpcli.nn.layers  # noqa: F401
from bpcli.nn.graph import LayerGraph, Node
from bpcli.nn.layer import LAYERS
from bpcli.nn.losses import LOSSES
from bpcli.nn.model import LossParts, Model
from bpcli.nn.regularization import REGULARIZERS
from central_differences import numerical_gradient


def make_model(dtype=np.float64, reg="l2", strength=0.1, dropout=0.0, init="he", loss="softmax_cross_entropy"):
    layers = [LAYERS.get("dense")(units=8, init=init), LAYERS.get("relu")()]
    if dropout:
        layers.append(LAYERS.get("dropout")(p=dropout))
    layers += [LAYERS.get("batchnorm")(), LAYERS.get("dense")(units=3, init=init)]
    nodes = [Node(f"l{i}", layer, [f"l{i - 1}" if i else "input"]) for i, layer in enumerate(layers)]
    graph = LayerGraph(nodes, (2,), dtype=dtype, seed=3)
    return Model(graph, LOSSES.get(loss)(), REGULARIZERS.get(reg), strength)


def data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)), rng.integers(0, 3, n)


def test_loss_parts_add_up_and_reg_covers_weights_only():
    model = make_model()
    X, y = data()
    params = model.params()
    params["l0.b"][:] = 100.0  # biases and batchnorm gamma/beta are not regularized
    params["l2.gamma"][:] = 50.0
    parts = model.loss(X, y)
    assert isinstance(parts, LossParts)
    expected_reg = 0.5 * 0.1 * (np.sum(params["l0.W"] ** 2) + np.sum(params["l3.W"] ** 2))
    assert parts.reg == pytest.approx(expected_reg)
    assert parts.total == pytest.approx(parts.data + parts.reg)


@pytest.mark.parametrize("reg,dropout", [("l2", 0.0), ("l1", 0.0), ("none", 0.0), ("l2", 0.3)])
def test_loss_and_grads_are_the_gradients_of_the_total_loss(reg, dropout):
    model = make_model(reg=reg, dropout=dropout)
    X, y = data()
    model.graph.reseed(1)
    parts = model.loss_and_grads(X, y)
    grads = {k: v.copy() for k, v in model.grads().items()}

    def total():
        model.graph.reseed(1)  # the same dropout mask as the analytic pass
        return model.loss(X, y).total

    assert total() == pytest.approx(parts.total, rel=1e-12)
    for key, p in model.params().items():
        num, crossed = numerical_gradient(total, p, kinks=model.graph.kink_states)
        assert crossed.mean() < 0.1
        np.testing.assert_allclose(grads[key][~crossed], num[~crossed], rtol=1e-5, atol=1e-8, err_msg=key)


def test_loss_is_forward_only_and_scores_use_eval_mode():
    model = make_model(dropout=0.5)
    X, y = data()
    model.loss_and_grads(X, y)
    before = {k: v.copy() for k, v in model.grads().items()}
    model.loss(X, y)
    for k, v in model.grads().items():
        np.testing.assert_array_equal(v, before[k])
    s1, s2 = model.scores(X), model.scores(X)
    np.testing.assert_array_equal(s1, s2)  # no dropout noise in eval mode
    with pytest.raises(RuntimeError):
        model.graph.backward(np.ones_like(s1))  # nothing cached


def test_small_init_starts_at_log_c_as_the_lecture_says():
    layers = [LAYERS.get("dense")(units=50, init="small"), LAYERS.get("relu")(), LAYERS.get("dense")(units=10, init="small")]
    nodes = [Node(f"l{i}", layer, [f"l{i - 1}" if i else "input"]) for i, layer in enumerate(layers)]
    model = Model(LayerGraph(nodes, (20,), seed=0), LOSSES.get("softmax_cross_entropy")())
    X = np.random.default_rng(0).standard_normal((200, 20)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 10, 200)
    parts = model.loss(X, y)
    assert parts.reg == 0.0
    assert parts.data == pytest.approx(math.log(10), abs=0.01)


def test_float32_training_step_stays_float32():
    model = make_model(dtype=np.float32)
    X, y = data()
    parts = model.loss_and_grads(X.astype(np.float32), y)
    assert all(g.dtype == np.float32 for g in model.grads().values())
    assert isinstance(parts.total, float)
    model.to(np.float64)
    model.loss_and_grads(X, y)
    assert all(g.dtype == np.float64 for g in model.grads().values())


def test_a_few_sgd_steps_lower_the_loss():
    model = make_model(strength=1e-3)
    X, y = data(60)
    first = model.loss_and_grads(X, y).total
    for _ in range(30):
        grads = model.grads()
        for k, p in model.params().items():
            p -= 0.5 * grads[k]
        last = model.loss_and_grads(X, y).total
    assert last < 0.7 * first
