"""The number of threads NumPy's BLAS (OpenBLAS) uses, read and set at run time through ctypes.

Why training pins it: the GEMMs of small and medium nets (batch 128, a few hundred units) take
well under a millisecond, so a second BLAS thread saves little, while OpenBLAS's worker threads
spin between calls; on a machine with other busy processes the main thread then waits for a
descheduled worker. Measured on a shared 2-core machine (784-256-128-10 MLP, batch 128, two
epochs of Fashion-MNIST): 56.5 s with OpenBLAS's 2 threads, 1.9 s with 1.

Only OpenBLAS builds are handled (NumPy's wheels ship one); anything else is left alone.
"""

from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from typing import Iterator, Optional

from bpcli.openblas import symbols_of_one_library

ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

_api: Optional[tuple] = None  # (get, set) once found; () when there is no OpenBLAS to drive


def _find_api() -> tuple:
    found = symbols_of_one_library("get_num_threads", "set_num_threads", prefixes=("scipy_openblas_", "openblas_"))
    if found is None:
        return ()
    get_fn, set_fn = found
    get_fn.restype, get_fn.argtypes = ctypes.c_int, []
    set_fn.restype, set_fn.argtypes = None, [ctypes.c_int]
    return get_fn, set_fn


def _blas_api() -> tuple:
    global _api
    if _api is None:
        _api = _find_api()
    return _api


def blas_threads() -> Optional[int]:
    """OpenBLAS's current thread count, or None when NumPy's BLAS is not a reachable OpenBLAS."""
    api = _blas_api()
    return int(api[0]()) if api else None


def env_sets_threads() -> bool:
    """True when the environment chooses BLAS threads itself (OPENBLAS_NUM_THREADS and the like)."""
    return any(os.environ.get(var) for var in ENV_VARS)


@contextmanager
def limited_blas_threads(n: Optional[int]) -> Iterator[Optional[int]]:
    """Run the block with n BLAS threads (None: leave them as they are), then restore the count.
    Yields the count in force inside the block (None when unknown)."""
    api = _blas_api() if n is not None else ()
    if not api:
        yield blas_threads() if n is None else None
        return
    get, set_ = api
    before = int(get())
    set_(int(n))
    try:
        yield int(get())
    finally:
        set_(before)
