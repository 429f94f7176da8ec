"""Progress of a training run, as TrainCallbacks: a live Rich bar on a terminal, one plain
line per epoch otherwise, nothing with --quiet. The sanity check is printed before training."""

from __future__ import annotations

import math
import time
from typing import Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bpcli.training.callbacks import TrainCallbacks
from bpcli.training.metrics import EpochMetrics, SanityCheck, TrainResult


def _fmt(value: Optional[float], digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def sanity_line(check: SanityCheck) -> str:
    """'sanity check: initial loss 1.10 vs expected ln(3) = 1.0986: ok'."""
    if check.expected_loss is None:
        return f"sanity check: initial loss {check.initial_loss:.4f} (no expected value for this loss)"
    what = f"ln({check.n_classes}) = " if check.n_classes and math.isclose(check.expected_loss, math.log(check.n_classes)) else ""
    verdict = "ok" if check.ok else "far from it: check the initialization scale and the loss"
    return f"sanity check: initial loss {check.initial_loss:.4f}, expected {what}{check.expected_loss:.4f}: {verdict}"


def epoch_fields(m: EpochMetrics, epochs: int, steps_per_second: Optional[float] = None) -> list[str]:
    """The metrics of one epoch as `name value` fields: 'epoch 3/60', 'loss 0.9045', ..."""
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
    return parts


def pack_fields(fields: list[str], width: int, indent: str = "  ") -> str:
    """Fields joined by two spaces, on lines of at most `width` columns, broken only between
    fields (a field never splits from its value); continuation lines are indented."""
    lines: list[str] = []
    line = ""
    for field in fields:
        if line and len(line) + 2 + len(field) > width:
            lines.append(line)
            line = indent + field
        else:
            line = f"{line}  {field}" if line else field
    lines.append(line)
    return "\n".join(lines)


def epoch_line(m: EpochMetrics, epochs: int, steps_per_second: Optional[float] = None,
               width: int = 10_000) -> str:
    return pack_fields(epoch_fields(m, epochs, steps_per_second), width)


class _Rate:
    """Training steps per second over the whole run so far (not since the last redraw), the
    time spent drawing progress left out: a terminal and a pipe report the same speed."""

    def __init__(self) -> None:
        self.restart(0)

    def restart(self, step0: int) -> None:
        self.start, self.step0, self.drawing = time.perf_counter(), step0, 0.0

    def at(self, step: int) -> Optional[float]:
        elapsed = time.perf_counter() - self.start - self.drawing
        return (step - self.step0) / elapsed if elapsed > 0 and step > self.step0 else None

    def drawn_since(self, began: float) -> None:
        """Leave the time since `began` (a perf_counter reading) out of the rate."""
        self.drawing += time.perf_counter() - began


class PlainProgress(TrainCallbacks):
    """One line per epoch (no ANSI codes, no redraw), e.g. when stdout is a pipe."""

    def __init__(self, console: Console, show_sanity: bool = True):
        self.console, self.show_sanity = console, show_sanity
        self.epochs = 0
        self.rate = _Rate()

    def on_sanity(self, check: SanityCheck) -> None:
        if self.show_sanity:
            self.console.print(sanity_line(check), markup=False)

    def on_start(self, *, start_epoch, epochs, steps_per_epoch, n_train) -> None:
        self.epochs = epochs
        if start_epoch:
            self.console.print(f"resuming at epoch {start_epoch + 1}/{epochs}", markup=False)
        self.rate.restart(start_epoch * steps_per_epoch)

    def on_epoch(self, m: EpochMetrics) -> None:
        began = time.perf_counter()
        line = epoch_line(m, self.epochs, self.rate.at(m.step), self.console.width)
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        self.rate.drawn_since(began)


class RichProgress(TrainCallbacks):
    """Keras-style: each finished epoch stays on screen as one line (its metrics and the true
    rate so far); below it a live bar over the current epoch's steps. The bar goes away at the
    end, so the last line on screen is the last epoch's."""

    REFRESH_SECONDS = 0.1

    def __init__(self, console: Console, show_sanity: bool = True):
        self.console, self.show_sanity = console, show_sanity
        self.progress: Optional[Progress] = None
        self.task = None
        self.epochs = 0
        self.steps_per_epoch = 1
        self._last_draw = 0.0
        self._done = 0
        self.rate = _Rate()

    def on_sanity(self, check: SanityCheck) -> None:
        if self.show_sanity:
            self.console.print(sanity_line(check), markup=False)

    def _columns(self) -> list:
        width = self.console.width
        columns = [TextColumn("{task.description}")]
        if width >= 80:
            columns.append(BarColumn(bar_width=30 if width >= 110 else 12))
        columns += [MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                    TextColumn("{task.fields[speed]}")]
        if width >= 100:
            columns.append(TextColumn("{task.fields[left]}"))
        return columns

    def on_start(self, *, start_epoch, epochs, steps_per_epoch, n_train) -> None:
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        if start_epoch:
            self.console.print(f"resuming at epoch {start_epoch + 1}/{epochs}", markup=False)
        self.progress = Progress(*self._columns(), console=self.console, transient=True,
                                 auto_refresh=False)
        self.progress.start()
        self._done = start_epoch * steps_per_epoch
        self.rate.restart(self._done)
        self.task = self.progress.add_task(
            f"epoch {start_epoch + 1}/{epochs}", total=steps_per_epoch, completed=0,
            status="", speed="", left="",
        )
        self.progress.refresh()

    def _speed_fields(self) -> dict:
        rate = self.rate.at(self._done)
        if not rate:
            return {"speed": "", "left": ""}
        seconds = (self.epochs * self.steps_per_epoch - self._done) / rate
        return {"speed": f"{rate:,.0f} steps/s", "left": f"{_duration(seconds)} left"}

    def on_step(self, epoch: int, batch: int, loss: float) -> None:
        self._done += 1
        now = time.perf_counter()
        if now - self._last_draw < self.REFRESH_SECONDS:
            return
        self._last_draw = now
        self.progress.update(
            self.task, completed=batch + 1, description=f"epoch {epoch + 1}/{self.epochs}",
            status=f"loss {loss:.4f}", **self._speed_fields(),
        )
        self.progress.refresh()
        self.rate.drawn_since(now)

    def on_epoch(self, m: EpochMetrics) -> None:
        began = time.perf_counter()
        self._done = m.step
        line = epoch_line(m, self.epochs, self.rate.at(m.step), self.console.width)
        self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        if m.epoch < self.epochs:
            self.progress.reset(self.task, total=self.steps_per_epoch, completed=0,
                                description=f"epoch {m.epoch + 1}/{self.epochs}", status="",
                                **self._speed_fields())
        self.progress.refresh()
        self.rate.drawn_since(began)

    def on_end(self, result: TrainResult) -> None:
        self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds // 60 % 60:02d}"


def make_progress(console: Console, *, live: bool, quiet: bool) -> TrainCallbacks:
    """The callbacks for a run: nothing when quiet, a live bar on a terminal, lines otherwise."""
    if quiet:
        return TrainCallbacks()
    return RichProgress(console) if live else PlainProgress(console)
