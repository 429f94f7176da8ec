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

ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "_64_", "")

_api: Optional[tuple] = None  # (get, set) once found; () when there is no OpenBLAS to drive


def _loaded_openblas_paths() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (Linux /proc/self/maps)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    return sorted(paths)


def _find_api() -> tuple:
    import numpy  # noqa: F401  (loads NumPy's BLAS)

    for path in _loaded_openblas_paths():
        try:
            lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    get.restype, get.argtypes = ctypes.c_int, []
                    set_.restype, set_.argtypes = None, [ctypes.c_int]
                    return get, set_
    return ()


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
