"""The two ways into training: `train_spec` (a spec into a new run directory) and `resume_run`
(a stopped run, in its directory), each ending with the run's summary.json; errors while
training become messages that say what the directory kept. The CLI calls these; nothing here prints."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from bpcli.data.label_check import check_labels_fit
from bpcli.errors import DataError, RunWriteFailed, TrainingDiverged, UsageError
from bpcli.training.callbacks import TrainCallbacks
from bpcli.training.checkpoint import Checkpoint, load_checkpoint
from bpcli.training.ctrl_c import TrainingInterrupted
from bpcli.training.loop import Trainer
from bpcli.training.metrics import TrainResult
from bpcli.training.run_dir import RunDir
from bpcli.training.saving import RunSaving
from bpcli.training.setup import init_from, load_dataset, model_dtype, overfit_spec, overfit_subset, run_meta
from bpcli.training.summary import summary_of


@dataclass
class Run:
    """A finished (or resumed and finished) training run."""

    result: TrainResult
    run_dir: RunDir
    model: Any
    data: Any
    spec: Any
    overfit: Optional[int] = None


def _trainer(spec, model, data, run: RunDir, callbacks, early_stopping=True) -> Trainer:
    from bpcli.spec import build_optimizer, build_schedule

    meta, extra = run_meta(spec, data)
    options = spec.train if early_stopping else dataclasses.replace(spec.train, early_stopping=None)
    saving = RunSaving(run, checkpoint_every=options.checkpoint_every, min_seconds=options.checkpoint_min_seconds,
                       meta=meta, extra=extra)
    return Trainer(
        model, data,
        options=options,
        optimizer=build_optimizer(spec.optimizer, model.graph.params()),
        schedule=build_schedule(spec.schedule),
        seed=spec.seed, callbacks=callbacks, saving=saving,
    )


def train_spec(
    spec,
    *,
    name: str = "run",
    out: Optional[Path] = None,
    runs_root: Path | str = "runs",
    callbacks: Optional[TrainCallbacks] = None,
    overfit: Optional[int] = None,
    on_trainer: Optional[Callable[[Trainer], None]] = None,
) -> Run:
    """Train a validated spec into a new run directory."""
    spec, data, model = _data_and_model(spec, overfit)
    if spec.train.init_from:
        init_from(model, spec)
    if overfit is not None:
        model.reg_strength = 0.0
    run = RunDir.create(name + ("-overfit" if overfit else ""), out, runs_root)
    with _run_errors(run):
        return _train_fresh(spec, model, data, run, callbacks, overfit, on_trainer)


def _data_and_model(spec, overfit: Optional[int] = None):
    """The spec's dataset (its first `overfit` examples when asked, with the spec made to
    memorize them) and the model built for it: (spec, data, model)."""
    from bpcli.spec import build_model

    dtype = model_dtype(spec)
    data = load_dataset(spec, dtype)
    if overfit is not None:
        data = overfit_subset(data, overfit, spec.seed)
        spec = overfit_spec(spec)
    model = build_model(spec, data.input_shape, data.n_classes, dtype)
    check_labels_fit(data, model.graph.output_shape)
    return spec, data, model


@contextmanager
def _run_errors(run: RunDir):
    """Unlock `run` at the end; a Ctrl-C outside the loop or a failed write becomes a message
    that says what the directory kept."""
    try:
        yield
    except KeyboardInterrupt:
        raise _stopped_at_once(run) from None
    except OSError as err:
        raise _write_failed(run, err) from None
    finally:
        run.unlock()


def _train_fresh(spec, model, data, run: RunDir, callbacks, overfit, on_trainer) -> Run:
    """Train from the start in `run` (locked by the caller)."""
    run.write_spec(spec.to_dict(absolute_paths=True))
    run.metrics_file.write_text("", encoding="utf-8")
    trainer = _trainer(spec, model, data, run, callbacks, early_stopping=overfit is None)
    if on_trainer:
        on_trainer(trainer)
    result = _run(trainer, run)
    return _finish(Run(result, run, model, data, spec, overfit))


def resume_run(
    path: Path | str,
    overrides: list[str] = (),
    *,
    callbacks: Optional[TrainCallbacks] = None,
    on_trainer: Optional[Callable[[Trainer], None]] = None,
    on_note: Optional[Callable[[str], None]] = None,
) -> Run:
    """Continue a run from its checkpoints/last.npz, in the same directory; a run stopped
    before its first checkpoint starts again from scratch (told through `on_note`)."""
    run = RunDir.existing(path)
    run.lock()
    with _run_errors(run):
        return _resume_locked(run, overrides, callbacks, on_trainer, on_note)


def _write_failed(run: RunDir, err: OSError) -> RunWriteFailed:
    """A run directory that could not be written (every other file was read before training)."""
    where = err.filename or run.path
    kept = f"the last complete checkpoint is kept: {run.last}" if run.last.is_file() else "no checkpoint was saved"
    return RunWriteFailed(f"cannot write {where}: {err.strerror or err}; {kept}")


def _stopped_at_once(run: RunDir) -> TrainingInterrupted:
    """Ctrl-C outside the loop's own handling (a second one, or one while saving or setting
    up): what the directory holds is its last complete save."""
    kept = str(run.last) if run.last.is_file() else None
    return TrainingInterrupted("interrupted (a second Ctrl-C stops at once; the last complete save is kept)", kept, 0, 0,
                               run_dir=str(run.path))


def _resume_locked(run: RunDir, overrides, callbacks, on_trainer, on_note) -> Run:
    from bpcli.spec import load_spec

    spec = load_spec(run.spec_file, list(overrides))
    for note in spec.notes if on_note else ():
        on_note(note)
    if not run.last.is_file():
        spec, data, model = _data_and_model(spec)
        if on_note:
            on_note(f"{run.path} was stopped before its first checkpoint: training it again from the start")
        return _train_fresh(spec, model, data, run, callbacks, None, on_trainer)
    last = load_checkpoint(run.last)
    _check_unfinished(run, last, spec.train.epochs)
    spec, data, model = _data_and_model(spec)
    best = _readable_best(run)
    run.write_spec(spec.to_dict(absolute_paths=True))
    run.write_metrics(last.meta.get("history", []))
    trainer = _trainer(spec, model, data, run, callbacks)
    if on_trainer:
        on_trainer(trainer)
    result = _run(trainer, run, last, best)
    return _finish(Run(result, run, model, data, spec))


def _readable_best(run: RunDir) -> Optional[Checkpoint]:
    """best.npz, or None when it is missing or unreadable (last.npz carries the best weights)."""
    if not run.best.is_file():
        return None
    try:
        return load_checkpoint(run.best)
    except DataError:
        return None


def _check_unfinished(run: RunDir, last: Checkpoint, epochs: int) -> None:
    """A usage error for a finished run (one whose summary.json describes its last save): say
    how to extend it. A run killed after its final save but before its summary goes on, to
    write the summary."""
    done = int(last.meta.get("epoch", 0))
    stopped_early = bool(last.meta.get("stopped_early"))
    finished = stopped_early or (done >= epochs and not last.meta.get("position"))
    summary = _readable_summary(run)
    if not finished or summary is None or summary.get("steps") != last.meta.get("step"):
        return
    if stopped_early:
        raise UsageError(f"{run.path} is complete: early stopping ended it after epoch {done}")
    raise UsageError(
        f"{run.path} is complete ({done}/{epochs} epochs); to train it further give more epochs, "
        f"e.g. bpcli train --resume {run.path} train.epochs={done + epochs}"
    )


def _readable_summary(run: RunDir) -> Optional[Dict[str, Any]]:
    try:
        summary = run.read_summary()
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def _run(trainer: Trainer, run: RunDir, resume: Optional[Checkpoint] = None, best: Optional[Checkpoint] = None) -> TrainResult:
    try:
        return trainer.run(resume, best)
    except TrainingDiverged as err:
        kept = f"\nlast good checkpoint: {run.last}" if run.last.is_file() else "\nno checkpoint was saved before it"
        raise TrainingDiverged(err.message + kept) from None
    except TrainingInterrupted as err:
        err.run_dir = str(run.path)
        raise
    except MemoryError:
        opts = trainer.options
        n_weights = sum(p.size for p in trainer.params.values())
        kept = f"; the last complete checkpoint is kept: {run.last}" if run.last.is_file() else ""
        raise RunWriteFailed(
            f"out of memory while training: a batch of {opts.batch_size or 'all'} examples through a model of "
            f"{n_weights:,} weights; lower train.batch_size or the model's width{kept}"
        ) from None


def _finish(run: Run) -> Run:
    run.run_dir.write_summary(summary_of(run))
    return run
