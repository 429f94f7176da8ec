"""The training loop: mini-batch steps, metrics, best-weight tracking, early stopping, nan/inf
and Ctrl-C stops. It reports through callbacks (`TrainCallbacks` for renderers, `Saving` for
persistence) and never prints nor writes a file itself.

Determinism: every random draw comes from generators seeded from the spec's seed (model init,
data, `shuffle_rng` for batch order, each layer's noise rng), and their states are saved in
checkpoints, so the same spec and seed give the same metrics and a resumed run continues
exactly where the interrupted one stopped, mid-epoch included.
"""

from __future__ import annotations

import math
import time
from itertools import islice
from typing import Any, Dict, List, Optional

import numpy as np

from bpcli.errors import TrainingDiverged
from bpcli.fast.train_step import TrainStep
from bpcli.training.best import BestWeights, copy_into
from bpcli.training.callbacks import TrainCallbacks
from bpcli.training.checkpoint import Checkpoint, best_of, rng_state, set_rng_state
from bpcli.training.ctrl_c import TrainingInterrupted, sigint_asks
from bpcli.training.metrics import (
    EpochMetrics, EpochSums, SanityCheck, TrainResult, accuracy_hits, evaluate_split, sanity_check, split_metrics,
)
from bpcli.training.options import TrainOptions
from bpcli.training.saving import Saving

__all__ = ["Trainer"]


class Trainer:
    """Trains `model` on `data` with a built optimizer (over `model.graph.params()`) and schedule."""

    def __init__(
        self,
        model,
        data,
        *,
        options: TrainOptions,
        optimizer,
        schedule,
        seed: int = 0,
        callbacks: Optional[TrainCallbacks] = None,
        saving: Optional[Saving] = None,
    ):
        self.model, self.data, self.options = model, data, options
        self.optimizer, self.schedule = optimizer, schedule
        self.callbacks = callbacks or TrainCallbacks()
        self.saving = saving or Saving()
        self.classification = getattr(data, "task", "classification") == "classification"
        self.has_val = data.X_val is not None and len(data.X_val) > 0
        self.params = model.graph.params()
        self.buffers = model.graph.buffers()
        self.base_lr = optimizer.lr
        self.step_fn = TrainStep(model, optimizer, clip_norm=options.clip_norm)
        self.shuffle_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED]))
        model.graph.reseed(int(seed))
        early = options.early_stopping
        monitor = early.monitor if early else ("val_loss" if self.has_val else "train_loss")
        self.best = BestWeights(monitor, early, self.params, self.buffers)

        self.epoch = 0  # completed epochs
        self.step = 0
        self.position = 0  # batches done in the current epoch
        self.sums = EpochSums()
        self.epoch_rng: Optional[Dict[str, Any]] = None  # shuffle_rng state at epoch start
        self.history: List[EpochMetrics] = []
        self.history_dicts: List[Dict[str, Any]] = []  # the same, ready for checkpoint meta
        self.stopped_early = False
        self.interrupt_requested = False

    # ----- state -----------------------------------------------------------------------
    def checkpoint(self, best: bool = False, meta: Optional[Dict[str, Any]] = None,
                   extra: Optional[Dict[str, np.ndarray]] = None) -> Checkpoint:
        """The run's state now (or, with best=True, the best weights with the same state);
        `meta` and `extra` (arrays) are the run's own entries, stored beside it."""
        layer_rngs = {f"layer/{n.name}": rng_state(n.layer.rng) for n in self.model.graph.nodes}
        meta = dict(meta or {})
        meta.update(
            epoch=self.epoch,
            step=self.step,
            position=self.position,
            sums=self.sums.to_list(),
            epoch_rng=self.epoch_rng,
            best_value=self.best.value,
            best_epoch=self.best.epoch,
            bad_epochs=self.best.bad_epochs,
            stopped_early=self.stopped_early,
            history=self.history_dicts,
            kind="best" if best else "last",
        )
        record = self.best.record()
        # right after the epoch that set it, the best weights are the current ones: not stored twice
        current = record is not None and self.best.epoch == self.epoch and self.position == 0
        if best:
            meta["record"] = record
        elif record is not None:
            meta.update(best_record=record, best_is_current=current)
        embed = not best and record is not None and not current
        return Checkpoint(
            params=self.best.params if best else self.params,
            buffers=self.best.buffers if best else self.buffers,
            optimizer=self.optimizer.state_dict(),
            schedule=self.schedule.state_dict(),
            extra=dict(extra or {}),
            meta=meta,
            rng={"shuffle": rng_state(self.shuffle_rng), **layer_rngs},
            best_params=self.best.params if embed else {},
            best_buffers=self.best.buffers if embed else {},
        )

    def restore(self, ck: Checkpoint, best: Optional[Checkpoint] = None) -> None:
        """Continue from a `last` checkpoint (and its run's `best` one, when there is one: used
        only when it matches the record in `last`, which otherwise holds the best weights)."""
        copy_into(self.params, ck.params)
        copy_into(self.buffers, ck.buffers)
        self.optimizer.load_state_dict(ck.optimizer)
        self.schedule.load_state_dict(ck.schedule)
        set_rng_state(self.shuffle_rng, ck.rng["shuffle"])
        for n in self.model.graph.nodes:
            if f"layer/{n.name}" in ck.rng:
                set_rng_state(n.layer.rng, ck.rng[f"layer/{n.name}"])
        m = ck.meta
        self.epoch, self.step, self.position = int(m["epoch"]), int(m["step"]), int(m["position"])
        self.sums = EpochSums.from_list(m["sums"])
        self.epoch_rng = m.get("epoch_rng")
        self.stopped_early = bool(m.get("stopped_early", False))
        self.history = [EpochMetrics(**h) for h in m["history"]]
        self.history_dicts = [h.to_dict() for h in self.history]
        source = best_of(ck, best) or ck
        self.best.restore(m["best_value"], m["best_epoch"], m["bad_epochs"], source.params, source.buffers)

    def interrupt(self) -> None:
        """Ask the loop to stop after the current step, save a checkpoint and raise TrainingInterrupted."""
        self.interrupt_requested = True

    # ----- the loop ----------------------------------------------------------------------
    def run(self, resume: Optional[Checkpoint] = None, resume_best: Optional[Checkpoint] = None) -> TrainResult:
        """Train to `options.epochs` (or an early stop); return the result with final metrics.
        The process is tuned for it meanwhile (BLAS threads, subnormal flushing, heap reuse:
        bpcli/host/) and restored afterwards. A big convnet's steps run as slices of the batch
        (bpcli/fast/batch_split.py): the threads chosen go to the slices, and BLAS keeps one
        thread throughout (a BLAS call on more, such as Adam's update between two steps, leaves
        OpenBLAS's workers spinning on the cores the slices need: conv4's Adam step took 123 ms
        against momentum's 75)."""
        from bpcli.host.blas_threads import blas_threads
        from bpcli.host.tuning import blas_thread_count, tuned_process

        opts = self.options
        threads = blas_thread_count(opts.blas_threads, self.auto_blas_threads)
        batch = opts.batch_size or len(self.data.X_train)
        if self.step_fn.splits(min(batch, len(self.data.X_train))):
            self.step_fn.workers = threads or blas_threads() or 1
            threads = 1
        with tuned_process(blas_threads=threads, flush_denormals=opts.flush_denormals):
            return self._run(resume, resume_best)

    def auto_blas_threads(self) -> int:
        """The BLAS threads `train.blas_threads: auto` means for this model (by its largest GEMM,
        bpcli/fast/thread_policy.py): the one place the policy is asked."""
        from bpcli.fast.thread_policy import choose_blas_threads

        return choose_blas_threads(self.model, self.options.batch_size or len(self.data.X_train))

    def _run(self, resume: Optional[Checkpoint], resume_best: Optional[Checkpoint]) -> TrainResult:
        opts, d, cb = self.options, self.data, self.callbacks
        sanity: Optional[SanityCheck] = None
        if resume is not None:
            self.restore(resume, resume_best)
            self.saving.resumed(self, resume_best)
        else:
            sanity = sanity_check(self.model, d, self.step_fn.scores)
            cb.on_sanity(sanity)
        n_train = len(d.X_train)
        batch_size = opts.batch_size if opts.batch_size and opts.batch_size < n_train else None
        steps_per_epoch = 1 if batch_size is None else -(-n_train // batch_size)
        cb.on_start(start_epoch=self.epoch, epochs=opts.epochs, steps_per_epoch=steps_per_epoch, n_train=n_train)

        stopped_early = self.stopped_early  # True: a finished run whose last save was its final one
        started = time.perf_counter()
        with sigint_asks(self.interrupt, lambda: self.interrupt_requested):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # nan/inf is caught below
                while self.epoch < opts.epochs and not stopped_early:
                    stopped_early = self._run_epoch(batch_size)
        train_seconds = time.perf_counter() - started
        self.stopped_early = stopped_early

        if opts.early_stopping is not None and self.best.epoch is not None:
            copy_into(self.params, self.best.params)
            copy_into(self.buffers, self.best.buffers)
        self.saving.finished(self)
        result = TrainResult(
            epochs=self.epoch,
            steps=self.step,
            train_seconds=train_seconds,
            history=self.history,
            final=self.final_metrics(),
            best_epoch=self.best.epoch,
            best_metric=self.best.monitor,
            stopped_early=stopped_early,
            sanity=sanity,
        )
        cb.on_end(result)
        return result

    def _batches(self, batch_size: Optional[int]):
        """The current epoch's batches: a new permutation, or when resuming mid-epoch the same
        permutation again without the batches already done."""
        from bpcli.data import iterate_batches

        d, shuffle = self.data, self.options.shuffle
        if self.position == 0:
            self.epoch_rng = rng_state(self.shuffle_rng)
            self.sums = EpochSums()
            return iterate_batches(d.X_train, d.y_train, batch_size, self.shuffle_rng, shuffle, reuse_buffers=True)
        set_rng_state(self.shuffle_rng, self.epoch_rng)
        batches = iterate_batches(d.X_train, d.y_train, batch_size, self.shuffle_rng, shuffle, reuse_buffers=True)
        return islice(batches, self.position, None)

    def _run_epoch(self, batch_size: Optional[int]) -> bool:
        """One epoch (possibly the rest of an interrupted one); True when early stopping fires."""
        opts = self.options
        epoch = self.epoch
        self.optimizer.lr = self.schedule.lr(self.base_lr, epoch, opts.epochs)
        batches = self._batches(batch_size)
        sums, train_step, on_step = self.sums, self._train_step, self.callbacks.on_step
        for Xb, yb in batches:
            loss, reg_loss, hits = train_step(Xb, yb)
            sums.add(loss, reg_loss, hits, len(yb))
            self.step += 1
            self.position += 1
            on_step(epoch, self.position, loss + reg_loss)
            if self.interrupt_requested:
                self._stop_interrupted()
        self.position = 0
        self.epoch += 1
        metrics = self._epoch_metrics(sums)
        self.history.append(metrics)
        self.history_dicts.append(metrics.to_dict())
        self.schedule.observe(metrics.to_dict())
        stop = self.best.track(metrics, self.params, self.buffers)
        self.saving.epoch_ended(self, metrics)
        self.callbacks.on_epoch(metrics)
        if self.interrupt_requested:
            self._stop_interrupted()
        return stop

    def _train_step(self, Xb: np.ndarray, yb: np.ndarray) -> tuple[float, float, int]:
        """Forward, loss, divergence check, then backward and the update (fused where it can be):
        (data loss, reg loss, hits)."""
        loss, reg_loss, scores = self.step_fn.forward(Xb, yb)
        if not math.isfinite(loss + reg_loss):
            self._diverged(loss + reg_loss)  # before backward: the weights stay as they were
        hits = accuracy_hits(scores, yb) if self.classification else 0
        self.step_fn.backward_and_update()
        return loss, reg_loss, hits

    def _epoch_metrics(self, sums: EpochSums) -> EpochMetrics:
        """The finished epoch's training metrics, and the validation pass when it is due."""
        opts, d = self.options, self.data
        metrics = EpochMetrics(
            epoch=self.epoch,
            step=self.step,
            lr=self.optimizer.lr,
            train_loss=sums.data_loss / sums.seen,
            train_accuracy=(sums.hits / sums.seen) if self.classification else None,
            train_reg_loss=sums.reg_loss / sums.seen,
        )
        if self.has_val and (self.epoch % max(opts.eval_every, 1) == 0 or self.epoch == opts.epochs):
            metrics.val_loss, metrics.val_accuracy = evaluate_split(self.model, d.X_val, d.y_val, self.classification,
                                                                     self.step_fn.scores)
        return metrics

    def _diverged(self, loss: float) -> None:
        where = f"epoch {self.epoch + 1}, step {self.step + 1}"
        kept = ""
        if self.saving.last_saved_epoch is not None:
            kept = f"; the last good checkpoint (after epoch {self.saving.last_saved_epoch}) is kept"
        raise TrainingDiverged(
            f"training diverged: the loss became {loss} at {where}{kept}.\n"
            "hint: lower the learning rate (e.g. optimizer.lr=...), add train.clip_norm, "
            "or check the data for nan/inf or unscaled features (data.standardize=true)"
        )

    def _stop_interrupted(self) -> None:
        path = self.saving.interrupted(self)
        raise TrainingInterrupted(
            f"interrupted at epoch {self.epoch + (1 if self.position else 0)}, step {self.step}",
            None if path is None else str(path),
            self.epoch,
            self.step,
        )

    def final_metrics(self) -> Dict[str, Optional[float]]:
        """Data loss and accuracy of the final weights on every split (eval mode), and their
        regularization loss `reg_loss`."""
        final = split_metrics(self.model, self.data.splits(), self.classification, self.step_fn.scores)
        final.setdefault("val_loss", None)
        final.setdefault("val_accuracy", None)
        return final
