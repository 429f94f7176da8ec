"""Losses and regularizers against hand values (CS231n's worked examples) and, every registered
entry on every one of its `examples`, against central differences of its own value."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from bpcli.errors import DataError
from bpcli.nn.losses import LOSSES
from bpcli.nn.regularization import REGULARIZERS
from central_differences import numerical_gradient
from registered import enrolled

# CS231n lecture 3: three examples (cat, car, frog), scores for classes (cat, car, frog)
LECTURE_SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LECTURE_LABELS = np.array([0, 1, 2])


def test_softmax_loss_of_uniform_scores_is_log_c():
    for c in (2, 3, 10):
        loss, _ = LOSSES.get("softmax_cross_entropy")().loss(np.full((4, c), 1.7), np.zeros(4, dtype=int))
        assert loss == pytest.approx(math.log(c), rel=1e-12)
        assert LOSSES.get("softmax_cross_entropy")().expected_initial_loss(c) == pytest.approx(math.log(c))


def test_softmax_loss_of_the_lecture_cat_is_2_04():
    loss, _ = LOSSES.get("softmax_cross_entropy")().loss(LECTURE_SCORES[:1], LECTURE_LABELS[:1])
    assert loss == pytest.approx(2.04, abs=0.005)


def test_svm_loss_of_the_lecture_examples():
    svm = LOSSES.get("svm")()
    per_example = [svm.loss(LECTURE_SCORES[i : i + 1], LECTURE_LABELS[i : i + 1])[0] for i in range(3)]
    assert per_example == pytest.approx([2.9, 0.0, 12.9])
    assert svm.loss(LECTURE_SCORES, LECTURE_LABELS)[0] == pytest.approx(5.27, abs=0.005)
    # the notes' example: scores [13, -7, 11], delta 10 -> 0 + 8
    assert LOSSES.get("svm")(delta=10.0).value(np.array([[13.0, -7.0, 11.0]]), np.array([0])) == pytest.approx(8.0)
    assert svm.expected_initial_loss(10) == 9
    assert svm.value(np.zeros((5, 10)), np.arange(5)) == pytest.approx(9.0)


def test_mse_and_bce_hand_values():
    mse = LOSSES.get("mse")()
    assert mse.value(np.array([[1.0], [3.0]]), np.array([0.0, 1.0])) == pytest.approx((1 + 4) / 2)
    bce = LOSSES.get("bce_with_logits")()
    s, y = np.array([[0.0], [2.0]]), np.array([1.0, 0.0])
    expected = (math.log(2) + math.log(1 + math.exp(2))) / 2
    assert bce.value(s, y) == pytest.approx(expected)
    assert bce.value(np.zeros((3, 1)), np.array([0, 1, 1])) == pytest.approx(bce.expected_initial_loss(2))


def test_stable_at_huge_scores():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = np.array([[1000.0, -1000.0]], dtype=np.float32)
        loss, d = LOSSES.get("softmax_cross_entropy")().loss(s, np.array([1]))
        assert loss == pytest.approx(2000.0) and np.isfinite(d).all()
        bce = LOSSES.get("bce_with_logits")()
        assert bce.value(np.array([[1000.0], [-1000.0]]), np.array([1.0, 1.0])) == pytest.approx(500.0)


def _labels(kind: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    if kind == "class ids":
        return rng.integers(0, shape[1], shape[0])
    if kind == "targets":
        return rng.standard_normal(shape)
    assert kind == "binary targets", kind
    return rng.integers(0, 2, shape).astype(float)


@pytest.mark.parametrize("name,entry,example", enrolled(LOSSES))
def test_every_registered_loss_gradient_matches_central_differences_of_its_value(name, entry, example):
    options, shape, labels = example
    rng = np.random.default_rng(0)
    loss = entry(**options)
    scores = rng.standard_normal(shape) * 2
    y = _labels(labels, shape, rng)
    before = scores.copy()
    value, d = loss.loss(scores, y)
    assert np.array_equal(scores, before) and d.shape == scores.shape
    assert value == pytest.approx(loss.value(scores, y), rel=1e-12)
    kinks = (lambda: loss.kink_state(scores, y)) if loss.has_kinks else None
    num, crossed = numerical_gradient(lambda: loss.value(scores, y), scores, kinks=kinks)
    assert crossed.mean() < 0.1
    np.testing.assert_allclose(d[~crossed], num[~crossed], rtol=1e-6, atol=1e-9)


def test_mse_takes_one_target_per_example_for_one_score_each():
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((6, 1)), rng.standard_normal(6)
    mse = LOSSES.get("mse")()
    value, d = mse.loss(scores, y)
    assert value == pytest.approx(np.mean((scores[:, 0] - y) ** 2))
    num, _ = numerical_gradient(lambda: mse.value(scores, y), scores)
    np.testing.assert_allclose(d, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name,entry,example", enrolled(REGULARIZERS))
def test_every_registered_regularizer_gradient_matches_central_differences_of_its_loss(name, entry, example):
    options, shapes = example
    rng = np.random.default_rng(3)
    weights = {f"layer{i}.W": rng.standard_normal(shape) for i, shape in enumerate(shapes)}
    loss, grads = entry(weights, **options)
    assert isinstance(loss, float) and set(grads) <= set(weights)
    for key, w in weights.items():
        num, _ = numerical_gradient(lambda: entry(weights, **options)[0], w)
        np.testing.assert_allclose(grads.get(key, np.zeros_like(w)), num, rtol=1e-6, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("name", LOSSES.names())
def test_float32_in_float32_out(name):
    scores = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 2, 1, 1]) if name in ("softmax_cross_entropy", "svm") else (scores > 0).astype(np.float32)
    value, d = LOSSES.get(name)().loss(scores, y)
    assert d.dtype == np.float32 and isinstance(value, float)


@pytest.mark.parametrize("y,message", [
    (np.array([0, 3]), r"labels must be in \[0, 3\)"),
    (np.array([0, -1]), r"labels must be in"),
    (np.array([0.5, 1.0]), "integer class labels"),
    (np.array([0, 1, 2]), "one class id per example"),
])
def test_bad_labels_are_data_errors(y, message):
    with pytest.raises(DataError, match=message):
        LOSSES.get("softmax_cross_entropy")().loss(np.zeros((2, 3)), y)


def test_l2_l1_none_values_and_gradients():
    rng = np.random.default_rng(2)
    w = {"a.W": rng.standard_normal((3, 2)), "b.W": rng.standard_normal(4)}
    lam = 0.1
    loss, grads = REGULARIZERS.get("l2")(w, lam)
    assert loss == pytest.approx(0.5 * lam * sum((v**2).sum() for v in w.values()))
    for k in w:
        np.testing.assert_allclose(grads[k], lam * w[k])
        num, _ = numerical_gradient(lambda: REGULARIZERS.get("l2")(w, lam)[0], w[k])
        np.testing.assert_allclose(grads[k], num, rtol=1e-6)
    loss, grads = REGULARIZERS.get("l1")(w, lam)
    assert loss == pytest.approx(lam * sum(np.abs(v).sum() for v in w.values()))
    for k in w:
        num, _ = numerical_gradient(lambda: REGULARIZERS.get("l1")(w, lam)[0], w[k])
        np.testing.assert_allclose(grads[k], num, rtol=1e-6)
    assert REGULARIZERS.get("none")(w, lam) == (0.0, {})
    w32 = {"W": np.ones((2, 2), dtype=np.float32)}
    assert REGULARIZERS.get("l2")(w32, 1e-3)[1]["W"].dtype == np.float32


def test_rows_far_below_the_batch_max_keep_their_precision():
    # row 2 sits 200 below the batch's max: exp underflows unless each row gets its own shift
    scores = np.array([[0.0, 1.0], [-200.0, -201.0], [-150.0, -149.0]], dtype=np.float32)
    y = np.array([0, 0, 1])
    per_row = [math.log(math.exp(0) + math.exp(1)) - 0, math.log(1 + math.exp(-1)), math.log(1 + math.exp(-1))]
    loss, d = LOSSES.get("softmax_cross_entropy")().loss(scores, y)
    assert loss == pytest.approx(sum(per_row) / 3, rel=1e-6)
    p_second = 1 / (1 + math.exp(-1))
    assert d[1].tolist() == pytest.approx([(p_second - 1) / 3, (1 - p_second) / 3], rel=1e-5)
