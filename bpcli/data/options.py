"""The keys every `data:` section accepts besides `type:` and the dataset's own options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class DataOptions:
    """Splitting and preprocessing shared by every dataset."""

    val_fraction: float = 0.0  # part of the training examples held out for validation
    test_fraction: float = 0.0  # ignored when the dataset has its own test split
    standardize: bool = False  # zero mean, unit variance, fitted on the train split only
    max_examples: Optional[int] = None  # keep at most this many training examples
