"""The pickled batches of CIFAR-10's Python version, read without running anything they name.

A batch file (`cifar-10-batches-py/data_batch_1` ...) is a Python 2 pickle of a dict:
`data` a NumPy uint8 array (N, 3072), `labels` a list of ints, `batch_label` and `filenames`
strings. A pickle is a program: `pickle.load` would call whatever functions the file names.
`SafeBatchUnpickler` resolves only the three globals a NumPy array's pickle uses
(`numpy.core.multiarray._reconstruct`, `numpy.ndarray`, `numpy.dtype`) and resolves them to
inert stand-ins that record their arguments; any other global is refused before anything runs.
The recorded arrays are then rebuilt here from their raw bytes, and only as uint8.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from bpcli.errors import DataError

RECONSTRUCT_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")  # NumPy < 2 and >= 2


class RefusedPickle(Exception):
    """The pickle asked for something a CIFAR-10 batch never holds."""


class _NdarrayClass:
    """Stands for `numpy.ndarray` in `_reconstruct(ndarray, shape, typecode)`."""


NDARRAY = _NdarrayClass()


class _DtypeStub:
    """What `numpy.dtype(name, align, copy)` recorded; BUILD hands it the dtype's state."""

    def __init__(self, name: Any, align: Any = 0, copy: Any = 1) -> None:
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        if name != "u1":
            raise RefusedPickle(f"an array of dtype {name!r} (CIFAR-10 pixels are uint8, 'u1')")
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ArrayStub:
    """What `_reconstruct(ndarray, ...)` recorded; BUILD hands it (version, shape, dtype, fortran, bytes)."""

    def __init__(self) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _ArrayStub:
    if cls is not NDARRAY:
        raise RefusedPickle("_reconstruct of something other than numpy.ndarray")
    return _ArrayStub()


class SafeBatchUnpickler(pickle.Unpickler):
    """An Unpickler whose find_class knows exactly the globals of a pickled uint8 NumPy array."""

    def find_class(self, module: str, name: str) -> Any:
        if module in RECONSTRUCT_MODULES and name == "_reconstruct":
            return _reconstruct
        if module == "numpy" and name == "ndarray":
            return NDARRAY
        if module == "numpy" and name == "dtype":
            return _DtypeStub
        raise RefusedPickle(f"the global {module}.{name}")


def _as_text(value: Any) -> Any:
    return value.decode("latin1") if isinstance(value, bytes) else value


def _array(stub: _ArrayStub, source: str) -> np.ndarray:
    """The uint8 array a recorded `_reconstruct` + BUILD describes, checked entry by entry."""
    state = stub.state
    if not (isinstance(state, tuple) and len(state) == 5):
        raise DataError(f"{source}: `data` is not a pickled NumPy array")
    _, shape, dtype, fortran, raw = state
    if not isinstance(dtype, _DtypeStub) or not isinstance(dtype.state, tuple) or len(dtype.state) < 2 \
            or _as_text(dtype.state[1]) not in ("|", "=", "<", ">"):
        raise DataError(f"{source}: `data` has a dtype other than uint8")
    if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise DataError(f"{source}: `data` has a bad shape {shape!r}")
    if isinstance(raw, str):  # a Python 2 str read with a text encoding
        raw = raw.encode("latin1")
    if not isinstance(raw, (bytes, bytearray)):
        raise DataError(f"{source}: `data` holds {type(raw).__name__}, not raw bytes")
    size = int(np.prod(shape, dtype=np.int64))
    if len(raw) != size:
        raise DataError(f"{source}: `data` has shape {shape} but {len(raw)} bytes")
    return np.frombuffer(bytes(raw), np.uint8).reshape(shape, order="F" if fortran else "C")


def read_batch(payload: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 3072) uint8, labels (N,) int64) from one pickled batch, never running it."""
    try:
        batch = SafeBatchUnpickler(io.BytesIO(payload), encoding="bytes").load()
    except RefusedPickle as err:
        raise DataError(f"{source}: refused to unpickle {err}; a CIFAR-10 batch holds only a dict "
                        "of strings, lists and a uint8 array") from None
    except Exception as err:  # any malformed pickle, whatever the VM tripped over, is bad data
        raise DataError(f"{source}: not a CIFAR-10 batch pickle ({type(err).__name__}: {err})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{source}: a CIFAR-10 batch is a dict, found {type(batch).__name__}")
    batch = {_as_text(k): v for k, v in batch.items()}
    missing = [k for k in ("data", "labels") if k not in batch]
    if missing:
        raise DataError(f"{source}: the batch has no {' or '.join(missing)} (keys: {', '.join(map(str, batch))})")
    if not isinstance(batch["data"], _ArrayStub):
        raise DataError(f"{source}: `data` is not a NumPy array")
    images = _array(batch["data"], source)
    labels = batch["labels"]
    if not isinstance(labels, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        raise DataError(f"{source}: `labels` must be a list of integers")
    if images.ndim != 2 or images.shape[1] != 3072:
        raise DataError(f"{source}: `data` must have shape (N, 3072), found {images.shape}")
    if len(labels) != len(images):
        raise DataError(f"{source}: {len(images)} images but {len(labels)} labels")
    return images, np.asarray(labels, dtype=np.int64)
