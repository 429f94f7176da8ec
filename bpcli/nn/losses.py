"""Data losses, registered by name. Each is a class whose __init__ keywords are its options.

`loss(scores, y) -> (float, dscores)`: the batch-mean loss and its gradient w.r.t. scores
(same shape and dtype as scores); `value(scores, y) -> float` computes the loss alone.
`has_kinks` / `kink_state(scores, y)` tell a gradient check where the loss is not smooth;
`expected_initial_loss(n_classes)` is the loss of near-zero scores (the lecture's sanity check).
`examples`: (options, scores shape (N, C), labels) cases the registry-wide tests check `loss`'s
gradient on against central differences of `value`; labels: "class ids" (N,) in [0, C),
"targets" (real, shaped like scores) or "binary targets" (0 or 1, shaped like scores).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from bpcli.errors import DataError
from bpcli.nn.functional import sigmoid, softmax_numerator
from bpcli.registry import Registry

LOSSES = Registry("loss")


class Loss:
    """Base class: override `loss`; `value` defaults to the first half of it."""

    registered_name = ""
    has_kinks = False
    examples: tuple = ()

    def loss(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def value(self, scores: np.ndarray, y: np.ndarray) -> float:
        return self.loss(scores, y)[0]

    def kink_state(self, scores: np.ndarray, y: np.ndarray) -> Optional[np.ndarray]:
        return None

    def expected_initial_loss(self, n_classes: int) -> Optional[float]:
        return None


def _class_ids(scores: np.ndarray, y: np.ndarray, loss_name: str) -> np.ndarray:
    """y as integer class ids in [0, C) for (N, C) scores, or a DataError saying what is wrong."""
    if scores.ndim != 2:
        raise DataError(f"{loss_name} needs (N, C) scores, got shape {scores.shape}")
    y = np.asarray(y)
    if y.shape != (scores.shape[0],):
        raise DataError(f"{loss_name} needs one class id per example: scores {scores.shape}, labels {y.shape}")
    if y.dtype.kind not in "iu":
        if y.dtype.kind != "f" or not np.all(y == np.round(y)):
            raise DataError(f"{loss_name} needs integer class labels, got {y.dtype}")
        y = y.astype(np.intp)
    if y.size and (y.min() < 0 or y.max() >= scores.shape[1]):
        raise DataError(
            f"{loss_name}: labels must be in [0, {scores.shape[1]}) for {scores.shape[1]} scores, "
            f"got {y.min()}..{y.max()}"
        )
    return y


def _targets(scores: np.ndarray, y: np.ndarray, loss_name: str) -> np.ndarray:
    """y shaped like scores ((N,) targets allowed for (N, 1) scores), in the scores' dtype."""
    y = np.asarray(y, dtype=scores.dtype)
    if y.shape != scores.shape:
        if y.size != scores.size:
            raise DataError(f"{loss_name}: targets {y.shape} do not match scores {scores.shape}")
        y = y.reshape(scores.shape)
    return y


@LOSSES.register("softmax_cross_entropy")
class SoftmaxCrossEntropy(Loss):
    """L = mean_i( -s_{i,y_i} + log Σ_j exp s_ij ); dL/ds = (softmax(s) - onehot(y)) / N."""

    examples = (({}, (5, 4), "class ids"), ({}, (3, 2), "class ids"))

    def loss(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        y = _class_ids(scores, y, "softmax_cross_entropy")
        n = scores.shape[0]
        rows = np.arange(n)
        probs, total, shift = softmax_numerator(scores)
        data_loss = self._mean_nll(scores, total, shift, rows, y)
        total *= n
        probs /= total  # softmax / N
        probs[rows, y] -= probs.dtype.type(1.0 / n)
        return data_loss, probs

    def value(self, scores: np.ndarray, y: np.ndarray) -> float:
        y = _class_ids(scores, y, "softmax_cross_entropy")
        _, total, shift = softmax_numerator(scores)
        return self._mean_nll(scores, total, shift, np.arange(scores.shape[0]), y)

    @staticmethod
    def _mean_nll(scores: np.ndarray, total: np.ndarray, shift: np.ndarray, rows: np.ndarray, y: np.ndarray) -> float:
        """mean_i ( log total_i - (s_{i,y_i} - shift_i) ), total_i = Σ_j exp(s_ij - shift_i)."""
        correct = scores[rows, y] - (shift if shift.ndim == 0 else shift[:, 0])
        return float(np.log(total).sum() - correct.sum()) / scores.shape[0]

    def expected_initial_loss(self, n_classes: int) -> Optional[float]:
        return math.log(n_classes)


@LOSSES.register("svm")
class MulticlassSVM(Loss):
    """L = mean_i Σ_{j≠y_i} max(0, s_ij - s_{i,y_i} + delta) (the multiclass hinge)."""

    has_kinks = True
    examples = (({}, (5, 4), "class ids"), ({"delta": 0.5}, (3, 6), "class ids"))

    def __init__(self, *, delta: float = 1.0):
        self.delta = delta

    def _margins(self, scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(scores.shape[0])
        margins = scores - scores[rows, y][:, None]
        margins += margins.dtype.type(self.delta)
        np.maximum(margins, 0, out=margins)
        margins[rows, y] = 0
        return margins, rows

    def loss(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        y = _class_ids(scores, y, "svm")
        margins, rows = self._margins(scores, y)
        n = scores.shape[0]
        data_loss = float(margins.sum()) / n
        dscores = (margins > 0).astype(scores.dtype)
        dscores[rows, y] = -dscores.sum(axis=1)
        dscores *= dscores.dtype.type(1.0 / n)
        return data_loss, dscores

    def value(self, scores: np.ndarray, y: np.ndarray) -> float:
        y = _class_ids(scores, y, "svm")
        return float(self._margins(scores, y)[0].sum()) / scores.shape[0]

    def kink_state(self, scores: np.ndarray, y: np.ndarray) -> Optional[np.ndarray]:
        """Which margins are active (> 0); a gradient check must not cross a change of it."""
        y = _class_ids(scores, y, "svm")
        rows = np.arange(scores.shape[0])
        margins = scores - scores[rows, y][:, None] + self.delta
        margins[rows, y] = -1.0
        return margins > 0

    def expected_initial_loss(self, n_classes: int) -> Optional[float]:
        return (n_classes - 1) * self.delta


@LOSSES.register("mse")
class MeanSquaredError(Loss):
    """L = mean over all N·D entries of (s - y)²; dL/ds = 2 (s - y) / (N·D)."""

    examples = (({}, (5, 3), "targets"), ({}, (6, 1), "targets"))

    def loss(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        diff = scores - _targets(scores, y, "mse")
        data_loss = float(np.vdot(diff, diff)) / diff.size
        diff *= diff.dtype.type(2.0 / diff.size)
        return data_loss, diff

    def value(self, scores: np.ndarray, y: np.ndarray) -> float:
        diff = scores - _targets(scores, y, "mse")
        return float(np.vdot(diff, diff)) / diff.size


@LOSSES.register("bce_with_logits")
class BinaryCrossEntropyWithLogits(Loss):
    """L = mean( max(s,0) - s·y + log(1 + exp(-|s|)) ), y in [0, 1]; dL/ds = (σ(s) - y) / size."""

    examples = (({}, (6, 1), "binary targets"), ({}, (4, 3), "binary targets"))

    def loss(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        y = _targets(scores, y, "bce_with_logits")
        data_loss = self._value(scores, y)
        grad = sigmoid(scores)
        grad -= y
        grad *= grad.dtype.type(1.0 / grad.size)
        return data_loss, grad

    def value(self, scores: np.ndarray, y: np.ndarray) -> float:
        return self._value(scores, _targets(scores, y, "bce_with_logits"))

    @staticmethod
    def _value(scores: np.ndarray, y: np.ndarray) -> float:
        terms = np.maximum(scores, 0)
        terms -= scores * y
        terms += np.log1p(np.exp(-np.abs(scores)))
        return float(terms.mean())

    def expected_initial_loss(self, n_classes: int) -> Optional[float]:
        return math.log(2.0)

