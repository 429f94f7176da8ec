"""The DATASETS registry and RawData, what every dataset entry returns before splitting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np

from bpcli.registry import Registry

# An entry is a function `(*, rng, base_dir, **options) -> RawData`; `rng` (a numpy Generator)
# and `base_dir` (the spec file's folder) are injected, every other keyword is a spec option.
DATASETS = Registry("dataset")

# Optional, for a dataset that is slow to read: `(*, base_dir, **options) -> (input_shape, n_classes)`
# from its headers alone, so `bpcli show` need not read it.
SHAPES = Registry("dataset shape")

INJECTED = ("rng", "base_dir")  # entry arguments that are not spec options

Task = Literal["classification", "regression"]


@dataclass
class RawData:
    """A dataset as read: X (N, *input_shape), y (N,), and its own test split where it has one."""

    X: np.ndarray
    y: np.ndarray
    X_test: Optional[np.ndarray] = None
    y_test: Optional[np.ndarray] = None
    task: Task = "classification"
    n_classes: Optional[int] = None  # None = inferred from the labels (max id + 1)
    class_names: Optional[tuple] = None  # names of class ids 0..n_classes-1, when known
    source: Optional[str] = None  # the file the labels y came from (for messages)
    rows: Optional[np.ndarray] = None  # the file's row (line) number of each example, where it has rows
