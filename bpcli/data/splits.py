"""Seeded train / val / test splits and standardization fitted on the train split only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from bpcli.errors import DataError


@dataclass
class SplitIndices:
    """Row indices (sorted, disjoint) of each split of one pool of examples."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _count(n: int, fraction: float) -> int:
    """round(n·fraction), but at least 1 when the fraction asks for any."""
    return max(1, int(round(n * fraction))) if fraction > 0 else 0


def split_indices(
    n: int,
    rng: np.random.Generator,
    *,
    val_fraction: float = 0.0,
    test_fraction: float = 0.0,
    max_examples: Optional[int] = None,
) -> SplitIndices:
    """Shuffle 0..n-1, keep max_examples of them, then cut off test and val parts by fraction."""
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= f < 1.0:
            raise DataError(f"data.{name} must be in [0, 1), got {f}")
    if max_examples is not None and max_examples < 1:
        raise DataError(f"data.max_examples must be >= 1, got {max_examples}")
    order = rng.permutation(n)
    if max_examples is not None:
        order = order[:max_examples]
    kept = len(order)
    n_test, n_val = _count(kept, test_fraction), _count(kept, val_fraction)
    if n_test + n_val >= kept:
        raise DataError(
            f"data: {kept} examples leave none for training after val_fraction={val_fraction} "
            f"and test_fraction={test_fraction}"
        )
    test, val, train = np.split(order, [n_test, n_test + n_val])
    return SplitIndices(np.sort(train), np.sort(val), np.sort(test))


def fit_standardization(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of the train split (float32, shape X.shape[1:]); std 0 -> 1."""
    mean = X_train.mean(axis=0, dtype=np.float64)
    std = X_train.std(axis=0, dtype=np.float64)
    std[std < 1e-8] = 1.0  # a constant feature is centred, not divided by zero
    return mean.astype(np.float32), std.astype(np.float32)


def apply_standardization(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(X - mean) / std, in place on X (which must be an array this module owns); returns X."""
    X -= mean
    X /= std
    return X
