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


OVERFIT_MIN_EPOCHS = 200


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

    dtype = _dtype(spec)
    data = load_dataset(spec, dtype)
    if overfit is not None:
        data = overfit_subset(data, overfit, spec.seed)
        spec = overfit_spec(spec)
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


# ----- the picture of a 2-D classifier ------------------------------------------------------
@dataclass
class DecisionSurface:
    """Predicted class on a rows x cols grid over the data's box; row 0 is the top (largest x2)."""

    classes: np.ndarray
    x_min: float
    x_max: float
    y_min: float
    y_max: float


def decision_surface(model, X: np.ndarray, cols: int = 64, rows: int = 28, margin: float = 0.1) -> Optional[DecisionSurface]:
    """Classify every cell centre of a grid around 2-D inputs X; None unless X is (N, 2)."""
    if X is None or X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        return None
    lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    pad = (hi - lo) * margin + 1e-6
    lo, hi = lo - pad, hi + pad
    xs = np.linspace(lo[0], hi[0], cols)
    ys = np.linspace(hi[1], lo[1], rows)
    gx, gy = np.meshgrid(xs, ys)
    points = np.ascontiguousarray(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=model.graph.dtype)
    scores = model.scores(points)
    if scores.ndim == 2 and scores.shape[1] > 1:
        classes = scores.argmax(axis=1)
    else:
        classes = (scores.reshape(-1) > 0).astype(np.int64)
    return DecisionSurface(classes.reshape(rows, cols), float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


# ----- predictions for new inputs ------------------------------------------------------------
def read_feature_csv(path: Path | str, n_features: int, label_column: Any = None) -> np.ndarray:
    """Rows of numbers -> (N, n_features) float64. A header row is skipped; with one extra column
    (a labelled file like the training CSV) the label column (`label_column`, default last) is dropped."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise DataError(f"input file not found: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(i + 1, row) for i, row in enumerate(csv.reader(f)) if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read as CSV: {err}") from None
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header = None
    if not all(_is_number(c) for c in rows[0][1]):
        header, rows = [c.strip() for c in rows[0][1]], rows[1:]
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    n_cols = len(rows[0][1])
    keep = list(range(n_cols))
    if n_cols == n_features + 1:
        drop = n_cols - 1
        if isinstance(label_column, str) and header and label_column in header:
            drop = header.index(label_column)
        elif isinstance(label_column, int) and -n_cols <= label_column < n_cols:
            drop = label_column % n_cols
        keep.remove(drop)
    elif n_cols != n_features:
        raise DataError(f"{path}: {n_cols} columns, but the model takes {n_features} features per row")
    X = np.empty((len(rows), n_features))
    for r, (line, row) in enumerate(rows):
        if len(row) != n_cols:
            raise DataError(f"{path}: row {line} has {len(row)} cells, expected {n_cols}")
        for j, c in enumerate(keep):
            try:
                X[r, j] = float(row[c])
            except ValueError:
                raise DataError(f"{path}: row {line}, column {c + 1}: not a number: {row[c]!r}") from None
            if not np.isfinite(X[r, j]):
                raise DataError(f"{path}: row {line}, column {c + 1}: NaN and inf are not allowed")
    return X


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def predict(trained: TrainedModel, X: np.ndarray) -> Dict[str, list]:
    """Columns of a predictions table: `prediction` and, for classifiers, `prob_<class>`
    (softmax of the scores) or the raw scores for other losses."""
    scores = trained.model.scores(trained.prepare(X)).astype(np.float64)
    if trained.task != "classification":
        return {"prediction": scores.reshape(len(X), -1)[:, 0].tolist()}
    names = trained.checkpoint.meta["data"].get("class_names")
    if scores.ndim == 2 and scores.shape[1] > 1:
        ids = scores.argmax(axis=1)
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
    else:
        ids = (scores.reshape(-1) > 0).astype(np.int64)
        p1 = 1.0 / (1.0 + np.exp(-scores.reshape(-1)))
        probs = np.stack([1 - p1, p1], axis=1)
    labels = [names[i] if names else int(i) for i in ids]
    columns: Dict[str, list] = {"prediction": labels}
    for k in range(probs.shape[1]):
        columns[f"prob_{names[k] if names else k}"] = probs[:, k].tolist()
    return columns


def write_predictions_csv(stream, columns: Dict[str, list]) -> None:
    import csv

    writer = csv.writer(stream, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names)):
        writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])


# ----- evaluation of a trained model ---------------------------------------------------------
def evaluate_trained(trained: TrainedModel, data_source: Optional[str] = None) -> Dict[str, Optional[float]]:
    """{split_loss, split_accuracy} for the model's own splits, another spec's data (its splits,
    with the training standardization) or a .csv/.npz file (one split named 'data')."""
    from bpcli.data import load_data
    from bpcli.spec import load_spec
    from bpcli.train import evaluate_split

    classification = trained.task == "classification"
    if data_source is None:
        data = load_dataset(trained.spec, trained.model.graph.dtype)
        splits = data.splits()
    else:
        suffix = Path(data_source).suffix.lower()
        if suffix in (".csv", ".npz"):
            section = {"type": suffix[1:], "path": str(Path(data_source).resolve())}
            data = load_data(section, base_dir=Path.cwd(), seed=trained.spec.seed)
            X = np.concatenate([data.X_train] + ([data.X_test] if data.X_test is not None else []))
            y = np.concatenate([data.y_train] + ([data.y_test] if data.y_test is not None else []))
            splits = {"data": (X, y)}
        else:
            other = load_spec(data_source)
            section = dict(other.data, standardize=False)
            data = load_data(section, base_dir=other.base_dir, seed=other.seed)
            splits = data.splits()
        splits = {k: (trained.prepare(X), y) for k, (X, y) in splits.items()}
    metrics: Dict[str, Optional[float]] = {}
    for name, (X, y) in splits.items():
        if X.shape[1:] != tuple(trained.input_shape):
            raise DataError(f"the data has {X.shape[1:]} values per example, the model expects {tuple(trained.input_shape)}")
        metrics[f"{name}_loss"], metrics[f"{name}_accuracy"] = evaluate_split(trained.model, X, y, classification)
    return metrics
