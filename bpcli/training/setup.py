"""What a run trains on, as the spec says: the dtype, the data (split and standardized), the
overfit check's subset and settings, the weights it starts from, and what every checkpoint
records of the spec and data."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict

import numpy as np

from bpcli.errors import UsageError

OVERFIT_MIN_EPOCHS = 200


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


def run_meta(spec, data) -> tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """(meta, extra arrays) every checkpoint of the run carries: the resolved spec, the data's
    description, its standardization."""
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


def init_from(model, spec) -> None:
    """Load `train.init_from` (relative to the spec's folder, else the working directory) into the model."""
    from bpcli.data.arrays import resolve_path
    from bpcli.weights import load_weights

    load_weights(model.graph, resolve_path(spec.train.init_from, spec.base_dir, "train.init_from weights file"))
