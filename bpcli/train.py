"""The training loop: mini-batch steps, metrics, best-weight tracking, early stopping,
checkpoints, exact resume, nan/inf and Ctrl-C stops. It reports through callbacks and never prints.

Determinism: every random draw comes from generators seeded from the spec's seed (model init,
data, `shuffle_rng` for batch order, each layer's noise rng), and their states are saved in
checkpoints, so the same spec and seed give the same metrics and a resumed run continues
exactly where the interrupted one stopped, mid-epoch included.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from bpcli.checkpoint import Checkpoint, best_of, rng_state, set_rng_state, weights_digest
from bpcli.errors import BpcliError, SpecError, SpecProblem, TrainingDiverged
from bpcli.nn.optim import OPTIMIZERS
from bpcli.fast.train_step import TrainStep
from bpcli.nn.schedules import SCHEDULES
from bpcli.train_options import EarlyStopping, TrainOptions

__all__ = [
    "EarlyStopping", "EpochMetrics", "SanityCheck", "TrainCallbacks", "TrainOptions", "TrainResult",
    "Trainer", "TrainingInterrupted", "evaluate_split", "regularization_loss", "split_metrics",
]

EVAL_CHUNK = 4096  # examples per forward pass when evaluating a whole split
SANITY_EXAMPLES = 8192  # at most this many (evenly spaced) training examples for the initial-loss check


class TrainingInterrupted(BpcliError):
    """Ctrl-C (or `Trainer.interrupt()`): a checkpoint was saved; exit 130."""

    exit_code = 130

    def __init__(self, message: str, checkpoint_path: Optional[str], epoch: int, step: int):
        super().__init__(message)
        self.checkpoint_path, self.epoch, self.step = checkpoint_path, epoch, step


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


class TrainCallbacks:
    """Hooks a renderer overrides; the default does nothing."""

    def on_sanity(self, check: SanityCheck) -> None: ...
    def on_start(self, *, start_epoch: int, epochs: int, steps_per_epoch: int, n_train: int) -> None: ...
    def on_step(self, epoch: int, batch: int, loss: float) -> None: ...
    def on_epoch(self, metrics: EpochMetrics) -> None: ...
    def on_end(self, result: TrainResult) -> None: ...


def _accuracy_hits(scores: np.ndarray, y: np.ndarray) -> int:
    """Number of correct predictions: argmax of (N, C) scores, or sign for one score column."""
    if scores.ndim == 2 and scores.shape[1] > 1:
        return int(np.count_nonzero(scores.argmax(axis=1) == y))
    return int(np.count_nonzero((scores.reshape(-1) > 0) == (y.reshape(-1) > 0.5)))


def evaluate_split(model, X: np.ndarray, y: np.ndarray, classification: bool) -> tuple[float, Optional[float]]:
    """(mean data loss, accuracy or None) over a whole split, in eval mode (no regularization:
    it depends on the weights only; see `regularization_loss`)."""
    n = len(X)
    loss_sum, hits = 0.0, 0
    for start in range(0, n, EVAL_CHUNK):
        Xc, yc = X[start : start + EVAL_CHUNK], y[start : start + EVAL_CHUNK]
        scores = model.scores(Xc)
        loss_sum += float(model.loss_fn.value(scores, yc)) * len(Xc)
        if classification:
            hits += _accuracy_hits(scores, yc)
    return loss_sum / n, (hits / n if classification else None)


def split_metrics(model, splits: Dict[str, tuple], classification: bool) -> Dict[str, Optional[float]]:
    """{split}_loss (data loss) and {split}_accuracy for every split, then `reg_loss` of the weights."""
    metrics: Dict[str, Optional[float]] = {}
    for split, (X, y) in splits.items():
        metrics[f"{split}_loss"], metrics[f"{split}_accuracy"] = evaluate_split(model, X, y, classification)
    metrics["reg_loss"] = regularization_loss(model)
    return metrics


def regularization_loss(model) -> float:
    """The regularizer's loss on the model's current weights (0 without regularization)."""
    strength = getattr(model, "reg_strength", 0.0) or 0.0
    if model.regularizer is None or not strength:
        return 0.0
    weights = {k: model.graph.params()[k] for k in model.graph.weight_names()}
    return float(model.regularizer(weights, strength)[0])


class Trainer:
    """Trains `model` on `data` with the spec's optimizer, schedule and train options."""

    def __init__(
        self,
        model,
        data,
        *,
        options: TrainOptions,
        optimizer: Dict[str, Any],
        schedule: Optional[Dict[str, Any]] = None,
        seed: int = 0,
        callbacks: Optional[TrainCallbacks] = None,
        save_last: Optional[Callable[[Checkpoint], Any]] = None,
        save_best: Optional[Callable[[Checkpoint], Any]] = None,
        record_epoch: Optional[Callable[[EpochMetrics], None]] = None,
        meta: Optional[Dict[str, Any]] = None,
        extra_arrays: Optional[Dict[str, np.ndarray]] = None,
    ):
        self.model, self.data, self.options = model, data, options
        self.seed = int(seed)
        self.callbacks = callbacks or TrainCallbacks()
        self.save_last, self.save_best, self.record_epoch = save_last, save_best, record_epoch
        self.meta = dict(meta or {})
        self.extra_arrays = dict(extra_arrays or {})
        self.classification = getattr(data, "task", "classification") == "classification"
        self.has_val = data.X_val is not None and len(data.X_val) > 0

        self.params = model.graph.params()
        opt_options = {k: v for k, v in optimizer.items() if k != "type"}
        self.optimizer = OPTIMIZERS.get(optimizer.get("type", "sgd"))(self.params, **opt_options)
        self.base_lr = self.optimizer.lr
        schedule = schedule or {"type": "constant"}
        self.schedule = SCHEDULES.get(schedule.get("type", "constant"))(
            **{k: v for k, v in schedule.items() if k != "type"}
        )
        self.shuffle_rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5EED]))
        model.graph.reseed(self.seed)

        early = options.early_stopping
        self.monitor = early.monitor if early else ("val_loss" if self.has_val else "train_loss")
        if self.monitor.startswith("val_") and not self.has_val:
            raise SpecError(
                SpecProblem(
                    f"early stopping monitors {self.monitor} but the data has no validation split; "
                    "set data.val_fraction (e.g. 0.1) or monitor train_loss",
                    path="train.early_stopping.monitor",
                )
            )
        self._interrupt = False
        self._reset_state()

    # ----- state -----------------------------------------------------------------------
    def _reset_state(self) -> None:
        self.epoch = 0  # completed epochs
        self.step = 0
        self.position = 0  # batches done in the current epoch
        self.sums = [0.0, 0, 0, 0.0]  # data loss * n, hits, n seen, reg loss * n in the current epoch
        self.epoch_rng: Optional[Dict[str, Any]] = None  # shuffle_rng state at epoch start
        self.history: List[EpochMetrics] = []
        self.history_dicts: List[Dict[str, Any]] = []  # the same, ready for checkpoint meta
        self._last_save = -math.inf
        self.best_value = math.inf  # signed: lower is better
        self.best_epoch: Optional[int] = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.best_params = {k: p.copy() for k, p in self.params.items()}
        self.best_buffers = {k: b.copy() for k, b in self._buffers().items()}
        self._record: Optional[Dict[str, Any]] = None  # best_record() of the current best weights
        self._best_saved: Optional[Dict[str, Any]] = None  # the record best.npz holds

    def best_record(self) -> Optional[Dict[str, Any]]:
        """{epoch, digest} naming the best weights so far (None before the first best)."""
        if self.best_epoch is None:
            return None
        if self._record is None or self._record["epoch"] != self.best_epoch:
            self._record = {"epoch": self.best_epoch, "digest": weights_digest(self.best_params, self.best_buffers)}
        return self._record

    def _buffers(self) -> Dict[str, np.ndarray]:
        getter = getattr(self.model.graph, "buffers", None)
        return getter() if callable(getter) else {}

    def checkpoint(self, best: bool = False) -> Checkpoint:
        """The run's state now (or, with best=True, the best weights with the same state)."""
        layer_rngs = {f"layer/{n.name}": rng_state(n.layer.rng) for n in self.model.graph.nodes}
        meta = dict(self.meta)
        meta.update(
            epoch=self.epoch,
            step=self.step,
            position=self.position,
            sums=list(self.sums),
            epoch_rng=self.epoch_rng,
            best_value=self.best_value,
            best_epoch=self.best_epoch,
            bad_epochs=self.bad_epochs,
            stopped_early=self.stopped_early,
            history=self.history_dicts,
            kind="best" if best else "last",
        )
        record = self.best_record()
        # right after the epoch that set it, the best weights are the current ones: not stored twice
        current = record is not None and self.best_epoch == self.epoch and self.position == 0
        if best:
            meta["record"] = record
        elif record is not None:
            meta.update(best_record=record, best_is_current=current)
        embed = not best and record is not None and not current
        return Checkpoint(
            params=self.best_params if best else self.params,
            buffers=self.best_buffers if best else self._buffers(),
            optimizer=self.optimizer.state_dict(),
            schedule=self.schedule.state_dict(),
            extra=self.extra_arrays,
            meta=meta,
            rng={"shuffle": rng_state(self.shuffle_rng), **layer_rngs},
            best_params=self.best_params if embed else {},
            best_buffers=self.best_buffers if embed else {},
        )

    def restore(self, ck: Checkpoint, best: Optional[Checkpoint] = None) -> None:
        """Continue from a `last` checkpoint (and its run's `best` one, when there is one: used
        only when it matches the record in `last`, which otherwise holds the best weights)."""
        for k, p in self.params.items():
            np.copyto(p, ck.params[k])
        for k, b in self._buffers().items():
            np.copyto(b, ck.buffers[k])
        self.optimizer.load_state_dict(ck.optimizer)
        self.schedule.load_state_dict(ck.schedule)
        set_rng_state(self.shuffle_rng, ck.rng["shuffle"])
        for n in self.model.graph.nodes:
            if f"layer/{n.name}" in ck.rng:
                set_rng_state(n.layer.rng, ck.rng[f"layer/{n.name}"])
        m = ck.meta
        self.epoch, self.step, self.position = int(m["epoch"]), int(m["step"]), int(m["position"])
        sums = m["sums"]
        self.sums = [float(sums[0]), int(sums[1]), int(sums[2]), float(sums[3]) if len(sums) > 3 else 0.0]
        self.epoch_rng = m.get("epoch_rng")
        self.best_value, self.best_epoch = float(m["best_value"]), m["best_epoch"]
        self.bad_epochs = int(m["bad_epochs"])
        self.stopped_early = bool(m.get("stopped_early", False))
        self.history = [EpochMetrics(**h) for h in m["history"]]
        self.history_dicts = [h.to_dict() for h in self.history]
        source = best_of(ck, best) or ck
        for k, p in self.best_params.items():
            np.copyto(p, source.params[k])
        for k, b in self.best_buffers.items():
            np.copyto(b, source.buffers[k])
        self._record = None
        self._best_saved = best.meta.get("record") if best is not None else None

    def interrupt(self) -> None:
        """Ask the loop to stop after the current step, save a checkpoint and raise TrainingInterrupted."""
        self._interrupt = True

    # ----- the loop ----------------------------------------------------------------------
    def sanity_check(self) -> SanityCheck:
        """Initial data loss vs the loss's expected value (ln C for softmax), on the training split
        or, when it is larger than SANITY_EXAMPLES, on every k-th example (an estimate that costs
        a fraction of a pass over the split)."""
        d = self.data
        n = len(d.X_train)
        stride = -(-n // SANITY_EXAMPLES)
        X, y = d.X_train[::stride], d.y_train[::stride]
        loss_sum = 0.0
        for start in range(0, len(X), EVAL_CHUNK):
            Xc, yc = np.ascontiguousarray(X[start : start + EVAL_CHUNK]), y[start : start + EVAL_CHUNK]
            loss_sum += float(self.model.loss_fn.value(self.model.scores(Xc), yc)) * len(Xc)
        expected = None
        if d.n_classes:
            expected = self.model.loss_fn.expected_initial_loss(d.n_classes)
        return SanityCheck(loss_sum / len(X), expected, d.n_classes)

    def _train_step(self, Xb: np.ndarray, yb: np.ndarray) -> tuple[float, float, int]:
        """Forward, loss, divergence check, then backward and the update (fused where it can be):
        (data loss, reg loss, hits)."""
        loss, reg_loss, scores = self.step_fn.forward(Xb, yb)
        if not math.isfinite(loss + reg_loss):
            self._diverged(loss + reg_loss)  # before backward: the weights stay as they were
        hits = _accuracy_hits(scores, yb) if self.classification else 0
        self.step_fn.backward_and_update()
        return loss, reg_loss, hits

    def run(self, resume: Optional[Checkpoint] = None, resume_best: Optional[Checkpoint] = None) -> TrainResult:
        """Train to `options.epochs` (or an early stop); return the result with final metrics,
        with NumPy's BLAS on `options.blas_threads` threads, subnormal floats flushed to zero
        (`options.flush_denormals`), both restored afterwards; and freed memory kept for reuse
        from then on (bpcli/heap_reuse.py)."""
        from bpcli.blas_threads import limited_blas_threads
        from bpcli.denormals import flushed_denormals
        from bpcli.heap_reuse import reuse_freed_memory

        reuse_freed_memory()
        with limited_blas_threads(self.blas_thread_count()), flushed_denormals(self.options.flush_denormals):
            return self._run(resume, resume_best)

    def blas_thread_count(self) -> Optional[int]:
        """The BLAS threads to train with: the option's number; for "auto", the model's size
        decides (bpcli/fast/thread_policy.py) unless the environment (OPENBLAS_NUM_THREADS and
        the like) chose (None: left as it is)."""
        from bpcli.blas_threads import env_sets_threads
        from bpcli.fast.thread_policy import choose_blas_threads

        wanted = self.options.blas_threads
        if wanted == "auto":
            return None if env_sets_threads() else choose_blas_threads(self.model, self.options.batch_size or len(self.data.X_train))
        return int(wanted)

    def _run(self, resume: Optional[Checkpoint], resume_best: Optional[Checkpoint]) -> TrainResult:
        from bpcli.data import iterate_batches

        opts, d, cb = self.options, self.data, self.callbacks
        model = self.model
        self.step_fn = TrainStep(model, self.optimizer, clip_norm=opts.clip_norm)
        sanity = None
        if resume is not None:
            self.restore(resume, resume_best)
            self._save_best()  # repairs best.npz when a killed save left it behind last.npz
        else:
            sanity = self.sanity_check()
            cb.on_sanity(sanity)
        n_train = len(d.X_train)
        batch_size = opts.batch_size if opts.batch_size and opts.batch_size < n_train else None
        steps_per_epoch = 1 if batch_size is None else -(-n_train // batch_size)
        cb.on_start(start_epoch=self.epoch, epochs=opts.epochs, steps_per_epoch=steps_per_epoch, n_train=n_train)

        stopped_early = self.stopped_early  # True: a finished run whose last save was its final one
        previous_handler = self._install_sigint()
        started = time.perf_counter()
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # nan/inf is caught below
                while self.epoch < opts.epochs and not stopped_early:
                    stopped_early = self._run_epoch(iterate_batches, batch_size)
        finally:
            self._restore_sigint(previous_handler)
        train_seconds = time.perf_counter() - started
        self.stopped_early = stopped_early

        if opts.early_stopping is not None and self.best_epoch is not None:
            for k, p in self.params.items():
                np.copyto(p, self.best_params[k])
            for k, b in self._buffers().items():
                np.copyto(b, self.best_buffers[k])
        self._save(final=True)
        result = TrainResult(
            epochs=self.epoch,
            steps=self.step,
            train_seconds=train_seconds,
            history=self.history,
            final=self.final_metrics(),
            best_epoch=self.best_epoch,
            best_metric=self.monitor,
            stopped_early=stopped_early,
            sanity=sanity,
        )
        cb.on_end(result)
        return result

    def _run_epoch(self, iterate_batches, batch_size: Optional[int]) -> bool:
        """One epoch (possibly the rest of an interrupted one); True when early stopping fires."""
        opts, d, cb = self.options, self.data, self.callbacks
        epoch = self.epoch
        self.optimizer.lr = self.schedule.lr(self.base_lr, epoch, opts.epochs)
        if self.position == 0:
            self.epoch_rng = rng_state(self.shuffle_rng)
            self.sums = [0.0, 0, 0, 0.0]
            batches = iterate_batches(d.X_train, d.y_train, batch_size, self.shuffle_rng, opts.shuffle, reuse_buffers=True)
        else:  # resuming mid-epoch: replay the epoch's permutation, skip the batches already done
            set_rng_state(self.shuffle_rng, self.epoch_rng)
            batches = islice(
                iterate_batches(d.X_train, d.y_train, batch_size, self.shuffle_rng, opts.shuffle, reuse_buffers=True),
                self.position, None,
            )
        sums = self.sums
        step_fn, on_step = self._train_step, cb.on_step
        for Xb, yb in batches:
            loss, reg_loss, hits = step_fn(Xb, yb)
            n = len(yb)
            sums[0] += loss * n
            sums[1] += hits
            sums[2] += n
            sums[3] += reg_loss * n
            self.step += 1
            self.position += 1
            on_step(epoch, self.position, loss + reg_loss)
            if self._interrupt:
                self._stop_interrupted()
        self.position = 0
        self.epoch += 1
        metrics = EpochMetrics(
            epoch=self.epoch,
            step=self.step,
            lr=self.optimizer.lr,
            train_loss=sums[0] / sums[2],
            train_accuracy=(sums[1] / sums[2]) if self.classification else None,
            train_reg_loss=sums[3] / sums[2],
        )
        if self.has_val and (self.epoch % max(opts.eval_every, 1) == 0 or self.epoch == opts.epochs):
            metrics.val_loss, metrics.val_accuracy = evaluate_split(self.model, d.X_val, d.y_val, self.classification)
        self.history.append(metrics)
        self.history_dicts.append(metrics.to_dict())
        if self.record_epoch:
            self.record_epoch(metrics)
        self.schedule.observe(metrics.to_dict())
        stop = self._track_best(metrics)
        if self.epoch % max(opts.checkpoint_every, 1) == 0 and (
            time.monotonic() - self._last_save >= opts.checkpoint_min_seconds
        ):
            self._save()
        cb.on_epoch(metrics)
        if self._interrupt:
            self._stop_interrupted()
        return stop

    def _track_best(self, metrics: EpochMetrics) -> bool:
        value = getattr(metrics, self.monitor)
        if value is None:
            return False
        signed = -value if self.monitor.endswith("accuracy") else value
        early = self.options.early_stopping
        min_delta = early.min_delta if early else 0.0
        if signed < self.best_value - min_delta:
            self.best_value, self.best_epoch, self.bad_epochs = signed, self.epoch, 0
            for k, p in self.params.items():
                np.copyto(self.best_params[k], p)
            for k, b in self._buffers().items():
                np.copyto(self.best_buffers[k], b)
            return False
        self.bad_epochs += 1
        return early is not None and self.bad_epochs >= early.patience

    def _save(self, final: bool = False) -> None:
        self._last_save = time.monotonic()
        self.last_saved_epoch = self.epoch
        if self.save_last:
            self.save_last(self.checkpoint())
        self._save_best()

    def _save_best(self) -> None:
        """Write best.npz when it does not hold the current best weights (always after last.npz,
        which carries them too: see bpcli/checkpoint.py)."""
        record = self.best_record()
        if self.save_best and record is not None and record != self._best_saved:
            self.save_best(self.checkpoint(best=True))
            self._best_saved = record

    def _diverged(self, loss: float) -> None:
        where = f"epoch {self.epoch + 1}, step {self.step + 1}"
        kept = ""
        if self.save_last and getattr(self, "last_saved_epoch", None) is not None:
            kept = f"; the last good checkpoint (after epoch {self.last_saved_epoch}) is kept"
        raise TrainingDiverged(
            f"training diverged: the loss became {loss} at {where}{kept}.\n"
            "hint: lower the learning rate (e.g. optimizer.lr=...), add train.clip_norm, "
            "or check the data for nan/inf or unscaled features (data.standardize=true)"
        )

    def _stop_interrupted(self) -> None:
        path = None
        if self.save_last:
            path = self.save_last(self.checkpoint())
            self._save_best()
        raise TrainingInterrupted(
            f"interrupted at epoch {self.epoch + (1 if self.position else 0)}, step {self.step}",
            None if path is None else str(path),
            self.epoch,
            self.step,
        )

    def final_metrics(self) -> Dict[str, Optional[float]]:
        """Data loss and accuracy of the final weights on every split (eval mode), and their
        regularization loss `reg_loss`."""
        final = split_metrics(self.model, self.data.splits(), self.classification)
        final.setdefault("val_loss", None)
        final.setdefault("val_accuracy", None)
        return final

    # ----- Ctrl-C ------------------------------------------------------------------------
    def _install_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def on_sigint(signum, frame):
            if self._interrupt:  # a second Ctrl-C: stop at once
                raise KeyboardInterrupt
            self._interrupt = True

        from bpcli import interrupts

        if interrupts.pending():  # pressed earlier, its KeyboardInterrupt lost in an import
            self._interrupt = True
        return signal.signal(signal.SIGINT, on_sigint)

    @staticmethod
    def _restore_sigint(previous) -> None:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
