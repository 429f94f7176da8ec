"""The keys every `data:` section accepts besides `type:` and the dataset's own options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class DataOptions:
    """Splitting and preprocessing shared by every dataset."""

    val_fraction: float = 0.0  # part of the examples held out for validation, in [0, 1)
    test_fraction: float = 0.0  # part held out for testing; ignored when the dataset has its own test split
    standardize: bool = False  # per-feature zero mean, unit variance, fitted on the train split only
    # subtract the train split's mean image (per-feature mean, no scaling): CS231n's preprocessing
    subtract_mean: bool = False
    # use a seeded random subset of at most this many examples before val/test are cut off
    # (a dataset's own test split is kept whole)
    max_examples: Optional[int] = None
