"""What training measures: the running sums of an epoch, one epoch's metrics, the initial-loss
sanity check, whole-split evaluation, and the result of a run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np

EVAL_CHUNK = 4096  # at most this many examples per forward pass when evaluating a whole split
# and at most this much memory in any one layer's output per pass: a convnet's first conv puts out
# 25 KB an example (8×28×28 floats), 100 MB for 4096 of them, and its scratch buffers follow
EVAL_LAYER_BYTES = 8 << 20
SANITY_EXAMPLES = 8192  # at most this many (evenly spaced) training examples for the initial-loss check


@dataclass
class EpochMetrics:
    """One line of metrics.jsonl. `epoch` counts completed epochs (1-based).

    Every `*_loss` of a split is its data loss, so train_loss and val_loss compare the same
    thing; `train_reg_loss` is the regularization added to it during the epoch (the training
    objective is train_loss + train_reg_loss)."""

    epoch: int
    step: int
    lr: float
    train_loss: float
    train_accuracy: Optional[float]
    val_loss: Optional[float] = None
    val_accuracy: Optional[float] = None
    train_reg_loss: float = 0.0

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)


@dataclass(slots=True)
class EpochSums:
    """Running sums over the batches of the current epoch (kept in checkpoints as a list, in this order)."""

    data_loss: float = 0.0  # Σ batch data loss · batch size
    hits: int = 0  # correct predictions
    seen: int = 0  # examples
    reg_loss: float = 0.0  # Σ batch regularization loss · batch size

    def add(self, data_loss: float, reg_loss: float, hits: int, n: int) -> None:
        self.data_loss += data_loss * n
        self.hits += hits
        self.seen += n
        self.reg_loss += reg_loss * n

    def to_list(self) -> list:
        return [self.data_loss, self.hits, self.seen, self.reg_loss]

    @classmethod
    def from_list(cls, sums: list) -> "EpochSums":
        """From a checkpoint's list (older ones have no regularization sum)."""
        return cls(float(sums[0]), int(sums[1]), int(sums[2]), float(sums[3]) if len(sums) > 3 else 0.0)


@dataclass
class SanityCheck:
    """The lecture's first check: the loss of the untrained model against its expected value."""

    initial_loss: float
    expected_loss: Optional[float]
    n_classes: Optional[int]

    @property
    def ok(self) -> Optional[bool]:
        if self.expected_loss is None:
            return None
        return abs(self.initial_loss - self.expected_loss) <= 0.25 * max(self.expected_loss, 1e-3)


@dataclass
class TrainResult:
    """What a finished run hands to the renderers and summary.json."""

    epochs: int
    steps: int
    train_seconds: float
    history: List[EpochMetrics]
    final: Dict[str, Optional[float]]
    best_epoch: Optional[int] = None
    best_metric: Optional[str] = None
    stopped_early: bool = False
    sanity: Optional[SanityCheck] = None
    extra: Dict[str, Any] = field(default_factory=dict)


def accuracy_hits(scores: np.ndarray, y: np.ndarray) -> int:
    """Number of correct predictions: argmax of (N, C) scores, or sign for one score column."""
    if scores.ndim == 2 and scores.shape[1] > 1:
        return int(np.count_nonzero(scores.argmax(axis=1) == y))
    return int(np.count_nonzero((scores.reshape(-1) > 0) == (y.reshape(-1) > 0.5)))


def eval_chunk(model) -> int:
    """Examples per forward pass over a whole split: EVAL_CHUNK, fewer where the model's largest
    layer output would pass EVAL_LAYER_BYTES for that many."""
    graph = model.graph
    largest = max((math.prod(shape) for shape in graph.shapes.values()), default=1)
    return max(1, min(EVAL_CHUNK, EVAL_LAYER_BYTES // max(largest * graph.dtype.itemsize, 1)))


def sanity_check(model, data, scores_of: Optional[Callable] = None) -> SanityCheck:
    """Initial data loss vs the loss's expected value (ln C for softmax), on the training split
    or, when it is larger than SANITY_EXAMPLES, on every k-th example (an estimate that costs
    a fraction of a pass over the split). `scores_of` is the eval-mode forward (default model.scores)."""
    scores_of = scores_of or model.scores
    n = len(data.X_train)
    stride = -(-n // SANITY_EXAMPLES)
    X, y = data.X_train[::stride], data.y_train[::stride]
    loss_sum, chunk = 0.0, eval_chunk(model)
    for start in range(0, len(X), chunk):
        Xc, yc = np.ascontiguousarray(X[start : start + chunk]), y[start : start + chunk]
        loss_sum += float(model.loss_fn.value(scores_of(Xc), yc)) * len(Xc)
    expected = None
    if data.n_classes:
        expected = model.loss_fn.expected_initial_loss(data.n_classes)
    return SanityCheck(loss_sum / len(X), expected, data.n_classes)


def evaluate_split(model, X: np.ndarray, y: np.ndarray, classification: bool,
                   scores_of: Optional[Callable] = None) -> tuple[float, Optional[float]]:
    """(mean data loss, accuracy or None) over a whole split, in eval mode (no regularization:
    it depends on the weights only; see `regularization_loss`). `scores_of` is the eval-mode
    forward (default model.scores)."""
    scores_of = scores_of or model.scores
    n = len(X)
    loss_sum, hits, chunk = 0.0, 0, eval_chunk(model)
    for start in range(0, n, chunk):
        Xc, yc = X[start : start + chunk], y[start : start + chunk]
        scores = scores_of(Xc)
        loss_sum += float(model.loss_fn.value(scores, yc)) * len(Xc)
        if classification:
            hits += accuracy_hits(scores, yc)
    return loss_sum / n, (hits / n if classification else None)


def split_metrics(model, splits: Dict[str, tuple], classification: bool,
                  scores_of: Optional[Callable] = None) -> Dict[str, Optional[float]]:
    """{split}_loss (data loss) and {split}_accuracy for every split, then `reg_loss` of the weights."""
    metrics: Dict[str, Optional[float]] = {}
    for split, (X, y) in splits.items():
        metrics[f"{split}_loss"], metrics[f"{split}_accuracy"] = evaluate_split(model, X, y, classification, scores_of)
    metrics["reg_loss"] = regularization_loss(model)
    return metrics


def regularization_loss(model) -> float:
    """The regularizer's loss on the model's current weights (0 without regularization)."""
    strength = getattr(model, "reg_strength", 0.0) or 0.0
    if model.regularizer is None or not strength:
        return 0.0
    weights = {k: model.graph.params()[k] for k in model.graph.weight_names()}
    return float(model.regularizer(weights, strength)[0])
