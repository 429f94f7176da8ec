"""Keep freed memory in the process's heap for reuse while training (glibc's mallopt).

Why: a convolutional step allocates several new arrays of 1-4 MB (layer outputs, pooling
temporaries) and frees them again. glibc gives such blocks back to the kernel (munmap, or a
trim of the heap's top) and the next step's allocation page-faults on every 4 KB page again:
about 1,500 faults a step in the benchmark's small CNN, 19.1 -> 17.2 ms a step once they were
gone. Raising the mmap threshold to glibc's maximum (32 MB) and the trim threshold to 512 MB
lets those blocks be reused while training. Only glibc is driven; elsewhere nothing changes.

Afterwards the thresholds go back to what they were before: what the environment set
(MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, GLIBC_TUNABLES glibc.malloc.*), else glibc's
defaults (128 KiB each). glibc has no call that reads them, and setting them ends its adaptive
mmap threshold, which therefore stays off (freed blocks go back to the kernel as by default).
"""

from __future__ import annotations

import ctypes
import os
import platform
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, Optional

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit on 64-bit systems
TRIM_THRESHOLD = 512 << 20
GLIBC_DEFAULT = 128 << 10  # both thresholds' defaults (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD)
_ENV = {_M_MMAP_THRESHOLD: ("MALLOC_MMAP_THRESHOLD_", "mmap_threshold"), _M_TRIM_THRESHOLD: ("MALLOC_TRIM_THRESHOLD_", "trim_threshold")}
_depth = 0  # nested reused_freed_memory blocks

@lru_cache(maxsize=None)
def _glibc() -> Optional[object]:
    """glibc with mallopt typed, or None on any other libc or system."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        lib = ctypes.CDLL("libc.so.6")
        lib.mallopt.argtypes, lib.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return lib


def supported() -> bool:
    """Whether this process's allocator is glibc's, which reuse_freed_memory can tune."""
    return _glibc() is not None


def reuse_freed_memory() -> bool:
    """From now on in this process, freed blocks up to 32 MB stay in the heap for the next
    allocation (the benchmark's setting for its whole run). Returns whether glibc took the
    settings (False elsewhere). `reused_freed_memory()` is the same for one block only."""
    return _set(MMAP_THRESHOLD, TRIM_THRESHOLD)


@contextmanager
def reused_freed_memory(enabled: bool = True) -> Iterator[bool]:
    """Run the block with freed blocks up to 32 MB kept for reuse, then put the thresholds back
    (see the module's docstring). Yields whether glibc took the settings."""
    global _depth
    if not enabled or _glibc() is None:
        yield False
        return
    taken = _set(MMAP_THRESHOLD, TRIM_THRESHOLD)
    _depth += 1
    try:
        yield taken
    finally:
        _depth -= 1
        if _depth == 0:
            _set(_before(_M_MMAP_THRESHOLD), _before(_M_TRIM_THRESHOLD))


def _set(mmap_threshold: int, trim_threshold: int) -> bool:
    libc = _glibc()
    if libc is None:
        return False
    mmap_set = libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
    trim_set = libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    return bool(mmap_set and trim_set)


def _before(param: int) -> int:
    """The threshold this process started with: the environment's setting, else glibc's default."""
    variable, tunable = _ENV[param]
    texts = [os.environ.get(variable, "")]
    for item in os.environ.get("GLIBC_TUNABLES", "").split(":"):
        name, _, value = item.partition("=")
        if name == f"glibc.malloc.{tunable}":
            texts.append(value)
    for text in reversed(texts):  # a tunable overrides the old variable
        try:
            return int(text, 0)
        except ValueError:
            continue
    return GLIBC_DEFAULT
