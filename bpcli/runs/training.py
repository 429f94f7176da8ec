"""A training run from a spec: data + model + run directory + Trainer, a resumed run, and the
run's summary.json. The CLI calls these; nothing here prints."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import numpy as np

from bpcli.checkpoint import Checkpoint, load_checkpoint
from bpcli.data.label_check import check_labels_fit
from bpcli.errors import DataError, RunWriteFailed, TrainingDiverged, UsageError
from bpcli.run_dir import RunDir
from bpcli.train import TrainCallbacks, Trainer, TrainingInterrupted, TrainResult

OVERFIT_MIN_EPOCHS = 200


@dataclass
class Run:
    """A finished (or resumed and finished) training run."""

    result: TrainResult
    run_dir: RunDir
    model: Any
    data: Any
    spec: Any
    overfit: Optional[int] = None


def model_dtype(spec) -> Any:
    """The NumPy dtype a spec trains in (`train.dtype`)."""
    return np.float64 if spec.train.dtype == "float64" else np.float32


def load_dataset(spec, dtype=np.float32):
    """The spec's data, split and standardized as in training (same seed -> same splits)."""
    from bpcli.data import load_data

    data = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed)
    if dtype != np.float32:
        for name in ("X_train", "X_val", "X_test"):
            X = getattr(data, name)
            if X is not None:
                setattr(data, name, np.ascontiguousarray(X, dtype=dtype))
    return data


def overfit_subset(data, n: int, seed: int):
    """The lecture's check: N random training examples and nothing else (no val, no test)."""
    if n < 1:
        raise UsageError(f"--overfit needs a positive number of examples, got {n}")
    n = min(n, len(data.X_train))
    pick = np.sort(np.random.default_rng(seed).choice(len(data.X_train), size=n, replace=False))
    return dataclasses.replace(
        data,
        X_train=np.ascontiguousarray(data.X_train[pick]), y_train=data.y_train[pick],
        X_val=None, y_val=None, X_test=None, y_test=None,
    )


def overfit_spec(spec):
    """The overfit check's training: a constant learning rate and at least 200 epochs
    (regularization is switched off on the model, early stopping in the trainer)."""
    train = dataclasses.replace(spec.train, epochs=max(spec.train.epochs, OVERFIT_MIN_EPOCHS), early_stopping=None)
    return dataclasses.replace(spec, train=train, schedule={"type": "constant"})


def _meta(spec, data) -> tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    meta = {
        "spec": spec.to_dict(absolute_paths=True),
        "data": {
            "name": data.name,
            "n_classes": data.n_classes,
            "input_shape": list(data.input_shape),
            "task": data.task,
            "class_names": None if data.class_names is None else [str(c) for c in data.class_names],
        },
    }
    extra = {}
    if data.mean is not None:
        extra = {"data_mean": np.asarray(data.mean), "data_std": np.asarray(data.std)}
    return meta, extra


def _trainer(spec, model, data, run: RunDir, callbacks, early_stopping=True) -> Trainer:
    from bpcli.checkpoint import save_checkpoint

    meta, extra = _meta(spec, data)
    options = spec.train if early_stopping else dataclasses.replace(spec.train, early_stopping=None)
    return Trainer(
        model, data,
        options=options, optimizer=spec.optimizer, schedule=spec.schedule, seed=spec.seed,
        callbacks=callbacks,
        save_last=lambda ck: save_checkpoint(run.last, ck),
        save_best=lambda ck: save_checkpoint(run.best, ck),
        record_epoch=lambda m: run.append_metrics(m.to_dict()),
        meta=meta, extra_arrays=extra,
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
    from bpcli.spec import build_model

    dtype = model_dtype(spec)
    data = load_dataset(spec, dtype)
    if overfit is not None:
        data = overfit_subset(data, overfit, spec.seed)
        spec = overfit_spec(spec)
    model = build_model(spec, data.input_shape, data.n_classes, dtype)
    check_labels_fit(data, model.graph.output_shape)
    if spec.train.init_from:
        _init_from(model, spec)
    if overfit is not None:
        model.reg_strength = 0.0
    run = RunDir.create(name + ("-overfit" if overfit else ""), out, runs_root)
    try:
        return _train_fresh(spec, model, data, run, callbacks, overfit, on_trainer)
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


def _init_from(model, spec) -> None:
    """Load `train.init_from` (relative to the spec's folder, else the working directory) into the model."""
    from bpcli.data.arrays import resolve_path
    from bpcli.weights import load_weights

    load_weights(model.graph, resolve_path(spec.train.init_from, spec.base_dir, "train.init_from weights file"))


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
    try:
        return _resume_locked(run, overrides, callbacks, on_trainer, on_note)
    except KeyboardInterrupt:
        raise _stopped_at_once(run) from None
    except OSError as err:
        raise _write_failed(run, err) from None
    finally:
        run.unlock()


def _write_failed(run: RunDir, err: OSError) -> RunWriteFailed:
    """A run directory that could not be written (every other file was read before training)."""
    where = err.filename or run.path
    kept = f"the last complete checkpoint is kept: {run.last}" if run.last.is_file() else "no checkpoint was saved"
    return RunWriteFailed(f"cannot write {where}: {err.strerror or err}; {kept}")


def _stopped_at_once(run: RunDir) -> TrainingInterrupted:
    """Ctrl-C outside the loop's own handling (a second one, or one while saving or setting
    up): what the directory holds is its last complete save."""
    kept = str(run.last) if run.last.is_file() else None
    err = TrainingInterrupted("interrupted (a second Ctrl-C stops at once; the last complete save is kept)", kept, 0, 0)
    err.run_dir = str(run.path)
    return err


def _resume_locked(run: RunDir, overrides, callbacks, on_trainer, on_note) -> Run:
    from bpcli.spec import build_model, load_spec

    spec = load_spec(run.spec_file, list(overrides))
    for note in spec.notes if on_note else ():
        on_note(note)
    if not run.last.is_file():
        dtype = model_dtype(spec)
        data = load_dataset(spec, dtype)
        model = build_model(spec, data.input_shape, data.n_classes, dtype)
        check_labels_fit(data, model.graph.output_shape)
        if on_note:
            on_note(f"{run.path} was stopped before its first checkpoint: training it again from the start")
        return _train_fresh(spec, model, data, run, callbacks, None, on_trainer)
    last = load_checkpoint(run.last)
    _check_unfinished(run, last, spec.train.epochs)
    dtype = model_dtype(spec)
    data = load_dataset(spec, dtype)
    model = build_model(spec, data.input_shape, data.n_classes, dtype)
    check_labels_fit(data, model.graph.output_shape)
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


def summary_of(run: Run) -> Dict[str, Any]:
    """summary.json: the DESIGN.md keys (epochs, steps, train_seconds, run_dir, final) and more.
    `final` describes the weights in checkpoints/last.npz (`checkpoint`)."""
    r = run.result
    final = {k: v for k, v in r.final.items() if not (k.startswith("test_") and v is None)}
    summary = {
        "epochs": r.epochs,
        "steps": r.steps,
        "train_seconds": round(r.train_seconds, 4),
        "run_dir": str(run.run_dir.path),
        "final": final,
        "checkpoint": "last",
        "best_epoch": r.best_epoch,
        "best_metric": r.best_metric,
        "stopped_early": r.stopped_early,
        "seed": run.spec.seed,
        "dataset": run.data.name,
        "n_train": int(len(run.data.X_train)),
    }
    if run.overfit is not None:
        summary["overfit_examples"] = int(len(run.data.X_train))
    if r.sanity is not None:
        summary["initial_loss"] = r.sanity.initial_loss
        summary["expected_initial_loss"] = r.sanity.expected_loss
    return summary


def _finish(run: Run) -> Run:
    run.run_dir.write_summary(summary_of(run))
    return run
