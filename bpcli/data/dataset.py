"""load_data: a validated `data:` section -> a Dataset of train / val / test splits."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional

import numpy as np

from bpcli.data.arrays import check_lengths
from bpcli.data.options import DataOptions
from bpcli.data.registry import DATASETS, INJECTED, SHAPES, RawData
from bpcli.data.section import placed_errors
from bpcli.data.splits import apply_standardization, fit_standardization, split_indices
from bpcli.errors import DataError, did_you_mean
from bpcli.faults import crash_point
from bpcli.registry import options_of

COMMON_KEYS = tuple(f.name for f in fields(DataOptions))


@dataclass
class Dataset:
    """Splits ready to train on: X float32 C-contiguous (N, *input_shape), y int64 (float32 for regression)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: Optional[np.ndarray]
    y_val: Optional[np.ndarray]
    X_test: Optional[np.ndarray]
    y_test: Optional[np.ndarray]
    n_classes: Optional[int]
    input_shape: tuple
    name: str
    task: str = "classification"
    mean: Optional[np.ndarray] = None  # standardization fitted on the train split
    std: Optional[np.ndarray] = None
    class_names: Optional[tuple] = None
    labels_as_read: Optional[RawData] = None  # y, y_test, source, rows in file order (no X): for messages

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{"train": (X, y), "val": ..., "test": ...} for the splits that exist."""
        parts = {"train": (self.X_train, self.y_train), "val": (self.X_val, self.y_val),
                 "test": (self.X_test, self.y_test)}
        return {k: v for k, v in parts.items() if v[0] is not None}

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """New inputs (e.g. for predict) as float32 with this dataset's standardization applied."""
        X = np.array(X, dtype=np.float32, order="C")  # a copy: standardization works in place
        if X.shape[1:] != self.input_shape:
            raise DataError(f"inputs have shape {X.shape[1:]} per example, the model expects {self.input_shape}")
        return X if self.mean is None else apply_standardization(X, self.mean, self.std)


def split_section(section: dict) -> tuple[str, dict[str, Any], DataOptions]:
    """(dataset name, its own options, the common DataOptions) from a `data:` dict."""
    rest = dict(section)
    name = rest.pop("type", None)
    if not name:
        raise DataError(f"data: needs `type:` (one of: {', '.join(DATASETS.names())})")
    common = DataOptions(**{k: rest.pop(k) for k in COMMON_KEYS if k in rest})
    entry = DATASETS.get(name)
    allowed = options_of(entry, skip=INJECTED)
    for key in rest:
        if key not in allowed:
            choices = list(allowed) + list(COMMON_KEYS)
            raise DataError(f"data: unknown option '{key}' for dataset '{name}'{did_you_mean(key, choices)}; "
                            f"options: {', '.join(choices)}")
    return name, rest, common


def _checked(raw: RawData, name: str) -> RawData:
    """Enforce the loader contract: float32 C-contiguous inputs, matching lengths."""
    raw.X = np.ascontiguousarray(raw.X, dtype=np.float32)
    check_lengths(raw.X, raw.y, name)
    if raw.X_test is not None:
        raw.X_test = np.ascontiguousarray(raw.X_test, dtype=np.float32)
        check_lengths(raw.X_test, raw.y_test, f"{name} (test split)")
    return raw


def _n_classes(raw: RawData, labels: list[Optional[np.ndarray]]) -> Optional[int]:
    if raw.task != "classification":
        return None
    if raw.n_classes is not None:
        return raw.n_classes
    return int(max(int(y.max()) for y in labels if y is not None and len(y))) + 1


def load_data(section: dict, *, base_dir: Path | None = None, seed: int = 0) -> Dataset:
    """Generate or read the dataset, split it (seeded), standardize on train statistics.
    A DataError names the spec's file:line when `section` is a spec's DataSection."""
    with placed_errors(section):
        return _load_data(section, base_dir=base_dir, seed=seed)


def _load_data(section: dict, *, base_dir: Path | None, seed: int) -> Dataset:
    name, options, common = split_section(section)
    data_seed, split_seed = np.random.SeedSequence(seed).spawn(2)
    crash_point("data:loading")
    try:
        raw = DATASETS.get(name)(rng=np.random.default_rng(data_seed), base_dir=base_dir, **options)
    except MemoryError:
        raise DataError(f"data ({name}): out of memory loading the dataset; "
                        "make it smaller (data.max_examples, fewer points) or use a machine with more memory") from None
    raw = _checked(raw, name)
    own_test = raw.X_test is not None
    parts = split_indices(
        len(raw.X), np.random.default_rng(split_seed), val_fraction=common.val_fraction,
        test_fraction=0.0 if own_test else common.test_fraction, max_examples=common.max_examples,
    )
    if len(parts.train) == len(raw.X):  # nothing held out: keep the arrays, no copy
        X_train, y_train = raw.X, raw.y
    else:
        X_train, y_train = raw.X[parts.train], raw.y[parts.train]
    X_val, y_val = (raw.X[parts.val], raw.y[parts.val]) if len(parts.val) else (None, None)
    if own_test:
        X_test, y_test = raw.X_test, raw.y_test
    else:
        X_test, y_test = (raw.X[parts.test], raw.y[parts.test]) if len(parts.test) else (None, None)
    mean = std = None
    if common.standardize or common.subtract_mean:
        mean, std = fit_standardization(X_train)
        if not common.standardize:
            std = np.ones_like(std)
        for X in (X_train, X_val, X_test):
            if X is not None:
                apply_standardization(X, mean, std)
    return Dataset(
        X_train, y_train, X_val, y_val, X_test, y_test,
        n_classes=_n_classes(raw, [y_train, y_val, y_test]),
        input_shape=tuple(X_train.shape[1:]), name=name, task=raw.task,
        mean=mean, std=std, class_names=raw.class_names,
        labels_as_read=RawData(None, raw.y, None, raw.y_test, task=raw.task, n_classes=raw.n_classes,
                               source=raw.source, rows=raw.rows),
    )


def data_shape(section: dict, *, base_dir: Path | None = None, seed: int = 0) -> tuple[tuple, Optional[int]]:
    """(per-example input shape, number of classes): from the files' headers where the dataset
    can tell it that way, else by loading it."""
    with placed_errors(section):
        name, options, _ = split_section(section)
        if name in SHAPES:
            return SHAPES.get(name)(base_dir=base_dir, **options)
    dataset = load_data(section, base_dir=base_dir, seed=seed)
    return dataset.input_shape, dataset.n_classes
