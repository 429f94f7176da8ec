"""Checks and conversions every loader shares: float32 C-contiguous X, int64 class ids y."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from bpcli.errors import DataError
from bpcli.input_files import special_kind

FLOAT32_MAX = float(np.finfo(np.float32).max)


def as_features(X: np.ndarray, source: str) -> np.ndarray:
    """X as float32 C-contiguous; DataError naming the first NaN/inf entry."""
    if X.dtype.kind not in "biuf":
        raise DataError(f"{source}: inputs must be numbers, found dtype {X.dtype}")
    return to_float32(X, source, "input")


def to_float32(a: np.ndarray, source: str, what: str) -> np.ndarray:
    """`a` as float32 C-contiguous; DataError at the first value too large for float32, or NaN/inf."""
    check_finite(a, source, what)
    if a.dtype.kind == "f" and a.dtype.itemsize > 4:
        too_big = np.abs(a) > FLOAT32_MAX
        if too_big.any():
            index = tuple(int(i) for i in np.argwhere(too_big)[0])
            where = index[0] if len(index) == 1 else index
            raise DataError(f"{source}: {what} {a[index]:g} at index {where} does not fit float32 "
                            f"(largest magnitude {FLOAT32_MAX:.4g})")
    a32 = np.ascontiguousarray(a, dtype=np.float32)
    check_finite(a32, source, what)
    return a32


def check_finite(a: np.ndarray, source: str, what: str) -> None:
    """DataError at the first NaN or inf in `a`, with its index."""
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            where = index[0] if len(index) == 1 else index
            raise DataError(f"{source}: {what} {a[index]} at index {where} (NaN and inf are not allowed)")


def as_class_ids(y: np.ndarray, source: str) -> np.ndarray:
    """Labels as int64 class ids >= 0; DataError for non-integer or negative labels."""
    if y.ndim != 1:
        raise DataError(f"{source}: labels must be 1-D, found shape {y.shape}")
    if y.dtype.kind not in "biuf":
        raise DataError(f"{source}: labels must be integer class ids, found dtype {y.dtype}")
    if y.dtype.kind == "f":
        check_finite(y, source, "label")
        fractional = y != np.round(y)
        if fractional.any():
            i = int(np.argmax(fractional))
            raise DataError(
                f"{source}: label {y[i]} at index {i} is not a class id "
                "(use task: regression for real-valued targets)"
            )
    ids = y.astype(np.int64)
    if ids.size and ids.min() < 0:
        i = int(np.argmin(ids))
        raise DataError(f"{source}: label {ids[i]} at index {i} is negative; class ids start at 0")
    return ids


def as_targets(y: np.ndarray, source: str) -> np.ndarray:
    """Regression targets as float32, finite."""
    if y.dtype.kind not in "biuf":
        raise DataError(f"{source}: regression targets must be numbers, found dtype {y.dtype}")
    return to_float32(y, source, "target")


def labels_for(task: str, y: np.ndarray, source: str) -> np.ndarray:
    """Class ids for classification, float targets for regression."""
    return as_class_ids(y, source) if task == "classification" else as_targets(y, source)


def check_lengths(X: np.ndarray, y: np.ndarray, source: str) -> None:
    if len(X) != len(y):
        raise DataError(f"{source}: {len(X)} inputs but {len(y)} labels")
    if len(X) == 0:
        raise DataError(f"{source}: no examples")


def resolve_path(path: str, base_dir: Optional[Path], what: str = "file") -> Path:
    """An absolute path, or one relative to the spec's folder, else to the working directory."""
    p = Path(path).expanduser()
    candidates = [p] if p.is_absolute() else [Path(base_dir or ".") / p, Path.cwd() / p]
    for c in candidates:
        if c.is_file():
            return c
    for c in candidates:
        if c.is_dir():
            raise DataError(f"{what} {path} is a directory, not a file ({c}); give the file's path")
        kind = special_kind(c)
        if kind is not None:
            raise DataError(f"{what} {c} is {kind}, not a regular file")
    tried = ", ".join(dict.fromkeys(str(c) for c in candidates))
    raise DataError(f"{what} not found: {path} (looked at {tried})")
