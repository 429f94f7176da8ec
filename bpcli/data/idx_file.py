"""The IDX format (MNIST, Fashion-MNIST): read_idx, and the `idx` dataset of image/label file pairs.

An IDX file is: two zero bytes, a type code byte, a byte giving the number of dimensions D,
D big-endian uint32 sizes, then the values big-endian in C order. Files may be gzipped.
"""

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from bpcli.data.arrays import as_class_ids, check_lengths, resolve_path
from bpcli.data.registry import DATASETS, RawData
from bpcli.errors import DataError
from bpcli.input_files import special_kind
from bpcli.memory_budget import over_budget, too_large

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not), checking magic number and size. The
    header is read first: the data it claims is checked against the memory budget and, for a
    plain file, the file's size, and a gzipped file is decompressed only up to that size."""
    kind = special_kind(path)
    if kind is not None:
        raise DataError(f"{path}: is {kind}, not an IDX file")
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
            head = stream.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES:
                raise DataError(f"{path}: not an IDX file (bad magic number {head.hex() or 'empty'})")
            ndim = head[3]
            dims = stream.read(4 * ndim)
            if ndim == 0 or len(dims) < 4 * ndim:
                raise DataError(f"{path}: IDX header is truncated or has {ndim} dimensions")
            shape = tuple(int(d) for d in np.frombuffer(dims, ">u4"))
            dtype = np.dtype(IDX_TYPES[head[2]])
            expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            if too_large(expected):
                raise DataError(f"{path}: IDX header claims shape {shape}: " + over_budget(expected, "its data"))
            if not gzipped:
                found = os.fstat(raw.fileno()).st_size - 4 - 4 * ndim
                if found != expected:
                    _wrong_size(path, shape, expected, found)
            data = stream.read(expected + 1)  # at most one byte more than the header claims
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read: {err}") from None
    if len(data) != expected:
        _wrong_size(path, shape, expected, len(data))
    return np.frombuffer(data, dtype).reshape(shape)


def _wrong_size(path: Path, shape: tuple, expected: int, found: int) -> None:
    state = "truncated" if found < expected else "longer than its header says"
    more = "" if found <= expected else " or more"
    raise DataError(f"{path}: IDX file is {state}: shape {shape} needs {expected:,} data bytes, found {found:,}{more}")


def read_idx_shape(path: Path) -> tuple[int, ...]:
    """The shape an IDX file's header declares, reading only the header."""
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if magic == GZIP_MAGIC else raw
            head = stream.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES or head[3] == 0:
                raise DataError(f"{path}: not an IDX file (bad magic number {head.hex() or 'empty'})")
            dims = stream.read(4 * head[3])
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read: {err}") from None
    if len(dims) < 4 * head[3]:
        raise DataError(f"{path}: IDX header is truncated")
    return tuple(int(d) for d in np.frombuffer(dims, ">u4"))


def idx_images(array: np.ndarray, source: str, flatten: bool) -> np.ndarray:
    """(N, rows, cols) IDX images -> float32 (N, 1, rows, cols) or (N, rows·cols); uint8 scaled to [0, 1]."""
    if array.ndim < 2:
        raise DataError(f"{source}: images must have at least 2 dimensions, found shape {array.shape}")
    if array.dtype == np.uint8:  # cast and scale in one pass
        X = np.multiply(array, np.float32(1.0 / 255.0), dtype=np.float32)
    else:
        X = array.astype(np.float32)
    if array.dtype != np.uint8 and not np.isfinite(X).all():
        raise DataError(f"{source}: images contain NaN or inf")
    n = len(X)
    if flatten:
        return X.reshape(n, -1)
    return X.reshape(n, 1, *X.shape[1:]) if X.ndim == 3 else X


def read_pair(images: Path, labels: Path, flatten: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from two IDX files, checked against each other."""
    X = idx_images(read_idx(images), str(images), flatten)
    y = as_class_ids(read_idx(labels), str(labels))
    check_lengths(X, y, f"{images} / {labels.name}")
    return X, y


@DATASETS.register("idx")
def idx_dataset(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    images: str = "",
    labels: str = "",
    test_images: Optional[str] = None,
    test_labels: Optional[str] = None,
    flatten: bool = False,
) -> RawData:
    """IDX image/label files (MNIST format) -> X (N, 1, rows, cols) in [0, 1], or (N, rows·cols) with flatten."""
    if not images or not labels:
        raise DataError("idx: set both `images:` and `labels:` to IDX files")
    if (test_images is None) != (test_labels is None):
        raise DataError("idx: set both `test_images:` and `test_labels:`, or neither")
    X, y = read_pair(resolve_path(images, base_dir, "IDX images"), resolve_path(labels, base_dir, "IDX labels"), flatten)
    X_test = y_test = None
    if test_images is not None:
        X_test, y_test = read_pair(
            resolve_path(test_images, base_dir, "IDX test images"),
            resolve_path(test_labels, base_dir, "IDX test labels"),
            flatten,
        )
        if X_test.shape[1:] != X.shape[1:]:
            raise DataError(f"{test_images}: test images have shape {X_test.shape[1:]}, training images {X.shape[1:]}")
    return RawData(X, y, X_test, y_test, source=str(labels))
