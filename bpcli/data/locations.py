"""Where installed datasets are looked for: the folders in $BPCLI_DATASETS, else the usual ones.

A dataset named NAME is looked for as `ROOT/NAME` under each root, in order. Setting
BPCLI_DATASETS (folders separated by `:`) replaces the default roots and the per-dataset
relative folders, so a test run or CI can hide whatever the machine has installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, TypeVar

from bpcli.errors import DataError, DataMissing

Found = TypeVar("Found")

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


def locate_dataset(
    name: str,
    path: Optional[str],
    base_dir: Optional[Path],
    default_dirs: tuple[Path, ...],
    found_in: Callable[[Path], Optional[Found]],
    incomplete: Callable[[Path], str],
    how_to_get: str,
) -> Found:
    """What `found_in` finds in the folder `path` (a relative one next to the spec, else in the
    working directory, as data files are looked up), or in the first of `default_dirs` where it
    finds something. A `path` that is not a folder, or a dataset in none of the default folders,
    is DataMissing (saying `how_to_get` it); a folder without the files is a DataError with the
    `incomplete` message."""
    if path is not None:
        given = Path(path).expanduser()
        candidates = [given] if given.is_absolute() else [Path(base_dir or ".") / given, Path.cwd() / given]
        folder = next((c for c in candidates if c.is_dir()), None)
        if folder is None:
            tried = " or ".join(dict.fromkeys(str(c) for c in candidates))
            raise DataMissing(f"{name}: no folder {tried} (from `path: {path}`); {how_to_get}")
        found = found_in(folder)
        if found is None:
            raise DataError(incomplete(folder))
        return found
    for folder in default_dirs:
        found = found_in(folder)
        if found is not None:
            return found
    looked = ", ".join(str(d) for d in default_dirs)
    raise DataMissing(f"{name} is not installed (looked in {looked}); {how_to_get}")
