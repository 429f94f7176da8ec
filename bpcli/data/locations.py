"""Where installed datasets are looked for: the folders in $BPCLI_DATASETS, else the usual ones.

A dataset named NAME is looked for as `ROOT/NAME` under each root, in order. Setting
BPCLI_DATASETS (folders separated by `:`) replaces the default roots and the per-dataset
relative folders, so a test run or CI can hide whatever the machine has installed.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "BPCLI_DATASETS"
DEFAULT_ROOTS = ("/usr/share/datasets", "~/.local/share/datasets")  # Debian's dataset-* packages, then the user's


def dataset_roots() -> tuple[Path, ...]:
    """The roots searched for installed datasets, in order."""
    value = os.environ.get(ENV)
    roots = DEFAULT_ROOTS if value is None else [p for p in value.split(os.pathsep) if p]
    return tuple(Path(p).expanduser() for p in roots)


def dataset_dirs(name: str, *relative: str) -> tuple[Path, ...]:
    """`ROOT/name` for every root, then the `relative` folders (skipped when BPCLI_DATASETS is set)."""
    dirs = tuple(root / name for root in dataset_roots())
    return dirs if os.environ.get(ENV) is not None else dirs + tuple(Path(r) for r in relative)
