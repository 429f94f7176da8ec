"""Progress of a training run, as TrainCallbacks: a live Rich bar on a terminal, one plain
line per epoch otherwise, nothing with --quiet. The sanity check is printed before training."""

from __future__ import annotations

import math
import time
from typing import Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bpcli.train import EpochMetrics, SanityCheck, TrainCallbacks, TrainResult


def _fmt(value: Optional[float], digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def sanity_line(check: SanityCheck) -> str:
    """'sanity check: initial loss 1.10 vs expected ln(3) = 1.0986: ok'."""
    if check.expected_loss is None:
        return f"sanity check: initial loss {check.initial_loss:.4f} (no expected value for this loss)"
    what = f"ln({check.n_classes}) = " if check.n_classes and math.isclose(check.expected_loss, math.log(check.n_classes)) else ""
    verdict = "ok" if check.ok else "far from it: check the initialization scale and the loss"
    return f"sanity check: initial loss {check.initial_loss:.4f}, expected {what}{check.expected_loss:.4f}: {verdict}"


def epoch_line(m: EpochMetrics, epochs: int, steps_per_second: Optional[float] = None) -> str:
    parts = [f"epoch {m.epoch}/{epochs}", f"step {m.step}", f"loss {_fmt(m.train_loss)}"]
    if m.train_reg_loss:
        parts.append(f"reg {_fmt(m.train_reg_loss)}")
    if m.train_accuracy is not None:
        parts.append(f"acc {_fmt(m.train_accuracy)}")
    if m.val_loss is not None:
        parts.append(f"val_loss {_fmt(m.val_loss)}")
    if m.val_accuracy is not None:
        parts.append(f"val_acc {_fmt(m.val_accuracy)}")
    parts.append(f"lr {m.lr:.3g}")
    if steps_per_second:
        parts.append(f"{steps_per_second:,.0f} steps/s")
    return "  ".join(parts)


class PlainProgress(TrainCallbacks):
    """One line per epoch (no ANSI codes, no redraw), e.g. when stdout is a pipe."""

    def __init__(self, console: Console, show_sanity: bool = True):
        self.console, self.show_sanity = console, show_sanity
        self.epochs = 0
        self._t = time.perf_counter()
        self._step0 = 0

    def on_sanity(self, check: SanityCheck) -> None:
        if self.show_sanity:
            self.console.print(sanity_line(check), markup=False)

    def on_start(self, *, start_epoch, epochs, steps_per_epoch, n_train) -> None:
        self.epochs = epochs
        if start_epoch:
            self.console.print(f"resuming at epoch {start_epoch + 1}/{epochs}", markup=False)
        self._t = time.perf_counter()
        self._step0 = start_epoch * steps_per_epoch  # the rate is over the whole run so far

    def on_epoch(self, m: EpochMetrics) -> None:
        now = time.perf_counter()
        rate = (m.step - self._step0) / (now - self._t) if now > self._t else None
        self.console.print(epoch_line(m, self.epochs, rate), markup=False, highlight=False)


class RichProgress(TrainCallbacks):
    """A live bar over all steps: epoch, step, loss, accuracy, speed, time left."""

    REFRESH_SECONDS = 0.1

    def __init__(self, console: Console, show_sanity: bool = True):
        self.console, self.show_sanity = console, show_sanity
        self.progress: Optional[Progress] = None
        self.task = None
        self.epochs = 0
        self.steps_per_epoch = 1
        self._last_draw = 0.0
        self._done = 0
        self._status = ""
        self._t0 = time.perf_counter()

    def on_sanity(self, check: SanityCheck) -> None:
        if self.show_sanity:
            self.console.print(sanity_line(check), markup=False)

    def on_start(self, *, start_epoch, epochs, steps_per_epoch, n_train) -> None:
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self._done = start_epoch * steps_per_epoch
        self._t0 = time.perf_counter()
        self._steps_at_start = self._done
        self.task = self.progress.add_task(
            f"epoch {start_epoch + 1}/{epochs}", total=epochs * steps_per_epoch, completed=self._done,
            status="", speed="",
        )

    def on_step(self, epoch: int, batch: int, loss: float) -> None:
        self._done += 1
        now = time.perf_counter()
        if now - self._last_draw < self.REFRESH_SECONDS:
            return
        self._last_draw = now
        rate = (self._done - self._steps_at_start) / max(now - self._t0, 1e-9)
        self.progress.update(
            self.task, completed=self._done, description=f"epoch {epoch + 1}/{self.epochs}",
            status=f"loss {loss:.4f} {self._status}", speed=f"{rate:,.0f} steps/s",
        )

    def on_epoch(self, m: EpochMetrics) -> None:
        acc = f"acc {m.train_accuracy:.4f}" if m.train_accuracy is not None else ""
        val = f" val_acc {m.val_accuracy:.4f}" if m.val_accuracy is not None else ""
        self._status = acc + val
        self._done = m.epoch * self.steps_per_epoch
        self.progress.update(self.task, completed=self._done, status=f"loss {m.train_loss:.4f} {self._status}")

    def on_end(self, result: TrainResult) -> None:
        self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def make_progress(console: Console, *, live: bool, quiet: bool) -> TrainCallbacks:
    """The callbacks for a run: nothing when quiet, a live bar on a terminal, lines otherwise."""
    if quiet:
        return TrainCallbacks()
    return RichProgress(console) if live else PlainProgress(console)
