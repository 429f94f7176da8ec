"""Learning-rate schedules (the SCHEDULES registry): lr for an epoch from the base lr.

An entry's options are its keyword arguments. The trainer asks `lr(base_lr, epoch, epochs)`
at the start of every epoch (epoch is 0-based) and calls `observe(metrics)` after it, which
only `plateau` uses. With `warmup_epochs = w > 0` the first w epochs ramp linearly,
lr = base_lr * (epoch + 1) / (w + 1), and the schedule proper starts at epoch w as its epoch 0.
`examples`: option sets the registry-wide tests check against the formula at every epoch.
"""

from __future__ import annotations

import math
from typing import Dict, Literal, Optional

import numpy as np

from bpcli.registry import Registry

SCHEDULES = Registry("schedule")


class Schedule:
    """Base class: `decay(epoch, epochs)` is the multiplier of base_lr after warmup."""

    examples: tuple = ()

    def __init__(self, *, warmup_epochs: int = 0):
        self.warmup_epochs = int(warmup_epochs)

    def lr(self, base_lr: float, epoch: int, epochs: int) -> float:
        """The learning rate for 0-based `epoch` of a run of `epochs` epochs."""
        w = self.warmup_epochs
        if epoch < w:
            return base_lr * (epoch + 1) / (w + 1)
        return base_lr * self.decay(epoch - w, max(epochs - w, 1))

    def decay(self, epoch: int, epochs: int) -> float:
        raise NotImplementedError

    def observe(self, metrics: Dict[str, Optional[float]]) -> None:
        """Called after every epoch with its metrics; only metric-driven schedules use it."""

    def state_dict(self) -> Dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: Dict[str, np.ndarray]) -> None:
        pass


@SCHEDULES.register("constant")
class Constant(Schedule):
    """lr = base_lr"""

    examples = ({}, {"warmup_epochs": 3})

    def __init__(self, *, warmup_epochs: int = 0):
        super().__init__(warmup_epochs=warmup_epochs)

    def decay(self, epoch, epochs):
        return 1.0


@SCHEDULES.register("step")
class Step(Schedule):
    """lr = base_lr * gamma ** floor(epoch / step_size)"""

    examples = ({"step_size": 3, "gamma": 0.5}, {"step_size": 2, "gamma": 0.1, "warmup_epochs": 2})

    def __init__(self, *, step_size: int = 30, gamma: float = 0.1, warmup_epochs: int = 0):
        super().__init__(warmup_epochs=warmup_epochs)
        self.step_size, self.gamma = max(int(step_size), 1), float(gamma)

    def decay(self, epoch, epochs):
        return self.gamma ** (epoch // self.step_size)


@SCHEDULES.register("exponential")
class Exponential(Schedule):
    """lr = base_lr * gamma ** epoch"""

    examples = ({"gamma": 0.8}, {"gamma": 0.5, "warmup_epochs": 1})

    def __init__(self, *, gamma: float = 0.95, warmup_epochs: int = 0):
        super().__init__(warmup_epochs=warmup_epochs)
        self.gamma = float(gamma)

    def decay(self, epoch, epochs):
        return self.gamma**epoch


@SCHEDULES.register("cosine")
class Cosine(Schedule):
    """lr = base_lr * (m + (1 - m) * (1 + cos(pi * epoch / epochs)) / 2), m = min_factor"""

    examples = ({}, {"min_factor": 0.2, "warmup_epochs": 2})

    def __init__(self, *, min_factor: float = 0.0, warmup_epochs: int = 0):
        super().__init__(warmup_epochs=warmup_epochs)
        self.min_factor = float(min_factor)

    def decay(self, epoch, epochs):
        m = self.min_factor
        return m + (1.0 - m) * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


@SCHEDULES.register("plateau")
class Plateau(Schedule):
    """Reduce on plateau: multiply lr by `factor` when `monitor` has not improved by more than
    `min_delta` for `patience` epochs (losses must fall, accuracies rise); never below min_factor."""

    examples = (
        {"factor": 0.5, "patience": 1},
        {"monitor": "val_accuracy", "factor": 0.1, "patience": 0, "min_factor": 0.05},
        {"monitor": "train_loss", "factor": 0.5, "patience": 2, "min_delta": 0.05, "warmup_epochs": 2},
    )

    def __init__(
        self,
        *,
        monitor: Literal["val_loss", "val_accuracy", "train_loss", "train_accuracy"] = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 0.0,
        min_factor: float = 0.0,
        warmup_epochs: int = 0,
    ):
        super().__init__(warmup_epochs=warmup_epochs)
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.min_delta, self.min_factor = float(min_delta), float(min_factor)
        self.scale = 1.0
        self.best = math.inf
        self.bad_epochs = 0

    def decay(self, epoch, epochs):
        return self.scale

    def observe(self, metrics):
        value = metrics.get(self.monitor)
        if value is None and self.monitor.startswith("val_"):
            value = metrics.get("train_" + self.monitor[4:])  # no validation split: use train
        if value is None:
            return
        signed = -value if self.monitor.endswith("accuracy") else value
        if signed < self.best - self.min_delta:
            self.best, self.bad_epochs = signed, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.scale = max(self.scale * self.factor, self.min_factor)
            self.bad_epochs = 0

    def state_dict(self):
        return {
            "scale": np.array(self.scale),
            "best": np.array(self.best),
            "bad_epochs": np.array(self.bad_epochs, dtype=np.int64),
        }

    def load_state_dict(self, state):
        self.scale = float(state["scale"])
        self.best = float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
