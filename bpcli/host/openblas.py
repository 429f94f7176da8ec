"""The OpenBLAS library that NumPy already loaded, found through /proc/self/maps and opened with ctypes.

NumPy's wheels ship OpenBLAS under a prefixed name (scipy_openblas64_, older ones openblas64_);
`symbol("cblas_sgemm")` tries those spellings. Anything else (MKL, Accelerate, no /proc) gives
None, and callers fall back to plain NumPy.
"""

from __future__ import annotations

import ctypes
import os
from functools import lru_cache
from typing import Any, Optional

_PREFIXES = ("scipy_", "")
_SUFFIXES = ("64_", "_64_", "")


def _loaded_paths() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (Linux /proc/self/maps)."""
    import numpy  # noqa: F401  (loads NumPy's BLAS)

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    return sorted(paths)


@lru_cache(maxsize=None)
def libraries() -> tuple:
    """ctypes handles of the loaded OpenBLAS libraries (usually one), opened without loading anything new."""
    handles = []
    for path in _loaded_paths():
        try:
            handles.append(ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL))
        except OSError:
            continue
    return tuple(handles)


def symbol(name: str, prefixes: tuple = _PREFIXES, suffixes: tuple = _SUFFIXES) -> Optional[tuple[Any, str]]:
    """(function, suffix) of the first spelling prefix+name+suffix exported by a loaded OpenBLAS, or None."""
    for lib in libraries():
        for prefix in prefixes:
            for suffix in suffixes:
                fn = getattr(lib, f"{prefix}{name}{suffix}", None)
                if fn is not None:
                    return fn, suffix
    return None


@lru_cache(maxsize=None)
def uses_64bit_ints() -> Optional[bool]:
    """Whether the library's integer arguments are 64-bit (an ILP64 build), from its config string."""
    found = symbol("get_config", prefixes=("scipy_openblas_", "openblas_"))
    if found is None:
        return None
    fn, _ = found
    fn.restype, fn.argtypes = ctypes.c_char_p, []
    return b"USE64BITINT" in (fn() or b"")


def symbols_of_one_library(*names: str, prefixes: tuple = _PREFIXES, suffixes: tuple = _SUFFIXES) -> Optional[tuple]:
    """The functions for every name, all from the same loaded OpenBLAS (first spelling found), or None."""
    for lib in libraries():
        found = []
        for name in names:
            fn = next(
                (f for f in (getattr(lib, f"{p}{name}{s}", None) for p in prefixes for s in suffixes) if f is not None),
                None,
            )
            if fn is None:
                break
            found.append(fn)
        else:
            return tuple(found)
    return None


@lru_cache(maxsize=None)
def _typed(name: str, restype: Any, *argtypes: Any) -> Optional[Any]:
    """The loaded OpenBLAS's function `name` with its C signature set, or None."""
    found = symbol(name)
    if found is None:
        return None
    fn, _ = found
    fn.restype, fn.argtypes = restype, list(argtypes)
    return fn


def threads() -> int:
    """The threads the loaded OpenBLAS runs a call on now (a fraction of a microsecond to ask); 1 without OpenBLAS."""
    fn = _typed("openblas_get_num_threads", ctypes.c_int)
    return max(1, int(fn())) if fn is not None else 1


def set_threads(n: int) -> bool:
    """Run later calls of the loaded OpenBLAS on n threads (a variable it reads per call: cheap to
    flip around a block); False when there is no OpenBLAS to tell."""
    fn = _typed("openblas_set_num_threads", None, ctypes.c_int)
    if fn is None:
        return False
    fn(int(n))
    return True
