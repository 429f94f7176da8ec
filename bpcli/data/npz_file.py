"""The `npz` dataset: a NumPy .npz archive with X and y (and optionally X_test, y_test)."""

import math
import zipfile
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from bpcli.data.arrays import as_features, check_lengths, labels_for, resolve_path
from bpcli.data.registry import DATASETS, RawData
from bpcli.errors import DataError
from bpcli.memory_budget import over_budget, too_large


def _check_header(archive, key: str, source: str) -> None:
    """The array's .npy header against its member's size and the memory budget, before NumPy
    allocates what the header claims."""
    try:
        info = archive.zip.getinfo(f"{key}.npy")
        with archive.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(member)
            header_end = member.tell()
    except (KeyError, AttributeError):
        return  # not a member NumPy wrote itself: np.load reports it
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{source}: array '{key}' has a damaged header: {err}") from None
    if dtype.hasobject:
        return  # refused without pickle below
    claimed = math.prod(shape) * dtype.itemsize
    if too_large(claimed):
        raise DataError(f"{source}: array '{key}' claims shape {shape}: " + over_budget(claimed, "it"))
    if claimed > info.file_size - header_end:
        raise DataError(f"{source}: array '{key}' claims shape {shape} ({claimed:,} bytes) but holds "
                        f"{max(info.file_size - header_end, 0):,} bytes")


def _read(archive, key: str, source: str) -> np.ndarray:
    _check_header(archive, key, source)
    try:
        return archive[key]
    except ValueError as err:  # object arrays need pickle, which is never allowed
        raise DataError(f"{source}: array '{key}' cannot be loaded without pickle ({err}); "
                        "save plain numeric arrays") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"{source}: array '{key}' is damaged: {err}") from None


@DATASETS.register("npz")
def npz_dataset(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    path: str = "",
    x_key: str = "X",
    y_key: str = "y",
    task: Literal["classification", "regression"] = "classification",
) -> RawData:
    """Arrays `x_key` (N, ...) and `y_key` (N,); `X_test`/`y_test` in the file become the test split."""
    if not path:
        raise DataError("npz: set `path:` to the .npz file")
    file = resolve_path(path, base_dir, "NPZ file")
    source = str(file)
    try:
        archive = np.load(file, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"{source}: not a readable .npz archive: {err}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{source}: a single .npy array, not an .npz archive with '{x_key}' and '{y_key}'")
    with archive:
        keys = list(archive.files)
        missing = [k for k in (x_key, y_key) if k not in keys]
        if missing:
            raise DataError(f"{source}: missing array(s) {', '.join(missing)}; the file has: {', '.join(keys) or 'nothing'}")
        X = as_features(_read(archive, x_key, source), f"{source}[{x_key}]")
        y = labels_for(task, _read(archive, y_key, source), f"{source}[{y_key}]")
        check_lengths(X, y, source)
        X_test = y_test = None
        if "X_test" in keys and "y_test" in keys and x_key != "X_test":
            X_test = as_features(_read(archive, "X_test", source), f"{source}[X_test]")
            y_test = labels_for(task, _read(archive, "y_test", source), f"{source}[y_test]")
            check_lengths(X_test, y_test, f"{source} (test split)")
            if X_test.shape[1:] != X.shape[1:]:
                raise DataError(f"{source}: X_test examples have shape {X_test.shape[1:]}, X has {X.shape[1:]}")
    if X.ndim < 2:
        raise DataError(f"{source}: {x_key} must have shape (N, features...), found {X.shape}")
    return RawData(X, y, X_test, y_test, task=task, source=f"{source}[{y_key}]")
