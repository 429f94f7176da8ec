"""The best weights so far by the monitored metric, and early stopping's count of epochs without improvement."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

import numpy as np

from bpcli.training.checkpoint import weights_digest
from bpcli.training.metrics import EpochMetrics
from bpcli.training.options import EarlyStopping


class BestWeights:
    """Copies of the params and buffers at the best value of `monitor` (lower is better; accuracies are negated)."""

    def __init__(self, monitor: str, early: Optional[EarlyStopping], params: Dict[str, np.ndarray], buffers: Dict[str, np.ndarray]):
        self.monitor, self.early = monitor, early
        self.value = math.inf  # signed: lower is better
        self.epoch: Optional[int] = None
        self.bad_epochs = 0
        self.params = {k: p.copy() for k, p in params.items()}
        self.buffers = {k: b.copy() for k, b in buffers.items()}
        self._record: Optional[Dict[str, Any]] = None  # record() of the current best weights

    def track(self, metrics: EpochMetrics, params: Dict[str, np.ndarray], buffers: Dict[str, np.ndarray]) -> bool:
        """Keep the weights when the epoch improved on the best; True when early stopping says stop."""
        value = getattr(metrics, self.monitor)
        if value is None:
            return False
        signed = -value if self.monitor.endswith("accuracy") else value
        min_delta = self.early.min_delta if self.early else 0.0
        if signed < self.value - min_delta:
            self.value, self.epoch, self.bad_epochs = signed, metrics.epoch, 0
            copy_into(self.params, params)
            copy_into(self.buffers, buffers)
            return False
        self.bad_epochs += 1
        return self.early is not None and self.bad_epochs >= self.early.patience

    def record(self) -> Optional[Dict[str, Any]]:
        """{epoch, digest} naming the best weights so far (None before the first best)."""
        if self.epoch is None:
            return None
        if self._record is None or self._record["epoch"] != self.epoch:
            self._record = {"epoch": self.epoch, "digest": weights_digest(self.params, self.buffers)}
        return self._record

    def restore(self, value: float, epoch: Optional[int], bad_epochs: int, source_params, source_buffers) -> None:
        """The state a checkpoint recorded, with the best weights from `source_*`."""
        self.value, self.epoch, self.bad_epochs = float(value), epoch, int(bad_epochs)
        copy_into(self.params, source_params)
        copy_into(self.buffers, source_buffers)
        self._record = None


def copy_into(targets: Dict[str, np.ndarray], sources: Dict[str, np.ndarray]) -> None:
    """targets[k][...] = sources[k] for every k of targets."""
    for k, t in targets.items():
        np.copyto(t, sources[k])
