"""Persistence of a run, as the callback the loop calls: a metrics.jsonl line per epoch,
checkpoints/last.npz every `checkpoint_every` epochs (at most one per `checkpoint_min_seconds`;
the end and Ctrl-C always save), best.npz after it whenever the best weights changed."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from bpcli.training.checkpoint import Checkpoint, save_checkpoint
from bpcli.training.metrics import EpochMetrics
from bpcli.training.run_dir import RunDir


class Saving:
    """What the loop calls to persist a run. This one keeps nothing (a Trainer in a test or a notebook)."""

    def __init__(self) -> None:
        self.last_saved_epoch: Optional[int] = None  # the epoch last.npz holds, once saved in this process

    def resumed(self, trainer, best: Optional[Checkpoint]) -> None:
        """Training continues from a checkpoint (`best`: the run's best.npz, if readable)."""

    def epoch_ended(self, trainer, metrics: EpochMetrics) -> None:
        """An epoch's metrics are in; the trainer's state is the end of that epoch."""

    def finished(self, trainer) -> None:
        """The last epoch ended (or early stopping fired): the final save."""

    def interrupted(self, trainer) -> Optional[Path]:
        """Ctrl-C: save now; return the path of the checkpoint that continues the run."""
        return None


class RunSaving(Saving):
    """Saves into a run directory; `meta` and `extra` (the spec, the data's standardization) go into every checkpoint."""

    def __init__(self, run: RunDir, *, checkpoint_every: int, min_seconds: float,
                 meta: Dict[str, Any], extra: Dict[str, np.ndarray]):
        super().__init__()
        self.run = run
        self.every, self.min_seconds = max(checkpoint_every, 1), min_seconds
        self.meta, self.extra = meta, extra
        self._last_save = -math.inf  # time.monotonic() of the last periodic save
        self._best_saved: Optional[Dict[str, Any]] = None  # the record best.npz holds

    def resumed(self, trainer, best: Optional[Checkpoint]) -> None:
        self._best_saved = best.meta.get("record") if best is not None else None
        self._save_best(trainer)  # repairs best.npz when a killed save left it behind last.npz

    def epoch_ended(self, trainer, metrics: EpochMetrics) -> None:
        self.run.append_metrics(metrics.to_dict())
        if trainer.epoch % self.every == 0 and time.monotonic() - self._last_save >= self.min_seconds:
            self._save(trainer)

    def finished(self, trainer) -> None:
        self._save(trainer)

    def _save(self, trainer) -> None:
        """last.npz, then best.npz if the best weights changed."""
        self._last_save = time.monotonic()
        self.last_saved_epoch = trainer.epoch
        save_checkpoint(self.run.last, trainer.checkpoint(meta=self.meta, extra=self.extra))
        self._save_best(trainer)

    def interrupted(self, trainer) -> Optional[Path]:
        path = save_checkpoint(self.run.last, trainer.checkpoint(meta=self.meta, extra=self.extra))
        self._save_best(trainer)
        return path

    def _save_best(self, trainer) -> None:
        """Write best.npz when it does not hold the current best weights (always after last.npz,
        which carries them too: see checkpoint.py)."""
        record = trainer.best.record()
        if record is not None and record != self._best_saved:
            save_checkpoint(self.run.best, trainer.checkpoint(best=True, meta=self.meta, extra=self.extra))
            self._best_saved = record
