"""A training run from a spec: data + model + run directory + Trainer, and loading a finished
run's model back (for evaluate / predict / resume). The CLI calls these; nothing here prints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import numpy as np
import yaml

from bpcli.checkpoint import Checkpoint, load_checkpoint
from bpcli.errors import DataError, TrainingDiverged, UsageError
from bpcli.run_dir import RunDir
from bpcli.train import TrainCallbacks, Trainer, TrainingInterrupted, TrainResult


@dataclass
class Run:
    """A finished (or resumed and finished) training run."""

    result: TrainResult
    run_dir: RunDir
    model: Any
    data: Any
    spec: Any
    overfit: Optional[int] = None


def _dtype(spec) -> Any:
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

    dtype = _dtype(spec)
    data = load_dataset(spec, dtype)
    if overfit is not None:
        data = overfit_subset(data, overfit, spec.seed)
    model = build_model(spec, data.input_shape, data.n_classes, dtype)
    if overfit is not None:
        model.reg_strength = 0.0
    run = RunDir.create(name + ("-overfit" if overfit else ""), out, runs_root)
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
) -> Run:
    """Continue a run from its checkpoints/last.npz, in the same directory."""
    from bpcli.spec import build_model, load_spec

    run = RunDir.existing(path)
    if not run.last.is_file():
        raise UsageError(f"{run.path} has no checkpoint to resume from ({run.last} is missing)")
    spec = load_spec(run.spec_file, list(overrides))
    dtype = _dtype(spec)
    data = load_dataset(spec, dtype)
    model = build_model(spec, data.input_shape, data.n_classes, dtype)
    last = load_checkpoint(run.last)
    best = load_checkpoint(run.best) if run.best.is_file() else None
    run.write_spec(spec.to_dict(absolute_paths=True))
    run.write_metrics(last.meta.get("history", []))
    trainer = _trainer(spec, model, data, run, callbacks)
    if on_trainer:
        on_trainer(trainer)
    result = _run(trainer, run, last, best)
    return _finish(Run(result, run, model, data, spec))


def _run(trainer: Trainer, run: RunDir, resume: Optional[Checkpoint] = None, best: Optional[Checkpoint] = None) -> TrainResult:
    try:
        return trainer.run(resume, best)
    except TrainingDiverged as err:
        kept = f"\nlast good checkpoint: {run.last}" if run.last.is_file() else "\nno checkpoint was saved before it"
        raise TrainingDiverged(err.message + kept) from None
    except TrainingInterrupted as err:
        err.run_dir = str(run.path)
        raise


def summary_of(run: Run) -> Dict[str, Any]:
    """summary.json: the DESIGN.md keys (epochs, steps, train_seconds, run_dir, final) and more."""
    r = run.result
    final = {k: v for k, v in r.final.items() if not (k.startswith("test_") and v is None)}
    summary = {
        "epochs": r.epochs,
        "steps": r.steps,
        "train_seconds": round(r.train_seconds, 4),
        "run_dir": str(run.run_dir.path),
        "final": final,
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


# ----- a trained model back from disk -------------------------------------------------------
@dataclass
class TrainedModel:
    """A model with its checkpoint's weights, the spec it was trained from, where it came from."""

    model: Any
    spec: Any
    checkpoint: Checkpoint
    checkpoint_path: Path
    n_classes: Optional[int]
    input_shape: tuple
    task: str
    mean: Optional[np.ndarray]
    std: Optional[np.ndarray]

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Raw inputs -> the model's dtype with the training standardization applied."""
        X = np.array(X, dtype=self.model.graph.dtype, order="C")
        if X.shape[1:] != tuple(self.input_shape):
            raise DataError(f"inputs have {X.shape[1:]} values per example, the model expects {tuple(self.input_shape)}")
        if self.mean is not None:
            X -= self.mean
            X /= self.std
        return X


def load_trained(path: Path | str) -> TrainedModel:
    """A run directory (its best checkpoint, else its last) or a checkpoint file -> TrainedModel."""
    from bpcli.spec import build_model, load_spec_text

    path = Path(path)
    if path.is_dir():
        run = RunDir.existing(path)
        path = run.best if run.best.is_file() else run.last
        if not path.is_file():
            raise UsageError(f"{run.path} has no checkpoint yet")
    ck = load_checkpoint(path)
    if "spec" not in ck.meta or "data" not in ck.meta:
        raise DataError(f"{path}: the checkpoint does not record its spec")
    spec = load_spec_text(yaml.safe_dump(ck.meta["spec"], sort_keys=False), file=f"{path} (spec)")
    info = ck.meta["data"]
    dtype = _dtype(spec)
    model = build_model(spec, tuple(info["input_shape"]), info["n_classes"], dtype)
    params = model.graph.params()
    missing = set(params) - set(ck.params)
    if missing:
        raise DataError(f"{path}: the checkpoint has no weights for {', '.join(sorted(missing))}")
    for k, p in params.items():
        np.copyto(p, ck.params[k])
    for k, b in model.graph.buffers().items():
        if k in ck.buffers:
            np.copyto(b, ck.buffers[k])
    return TrainedModel(
        model, spec, ck, path, info["n_classes"], tuple(info["input_shape"]), info["task"],
        ck.extra.get("data_mean"), ck.extra.get("data_std"),
    )
