"""The one way into process tuning: `with tuned_process(...)` sets BLAS threads, subnormal
flushing and heap reuse for a block (training) and gives the host process (a notebook, the
sweep's worker) back its own settings afterwards, each one as it was."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Union

from bpcli.host.blas_threads import env_sets_threads, limited_blas_threads
from bpcli.host.denormals import flushed_denormals
from bpcli.host.heap_reuse import reused_freed_memory


def blas_thread_count(option: Union[str, int, None], auto: Union[int, Callable[[], int]] = 1) -> Optional[int]:
    """The BLAS threads to train with: the option's number; for "auto", `auto` (the caller's
    policy for its model, asked only then: it may measure the machine) unless the environment
    (OPENBLAS_NUM_THREADS and the like) chose; None: left as it is. Which count `auto` stands
    for: bpcli/fast/thread_policy.py."""
    if option is None:
        return None
    if option == "auto":
        if env_sets_threads():
            return None
        return int(auto() if callable(auto) else auto)
    return int(option)


@contextmanager
def tuned_process(*, blas_threads: Union[str, int, None] = "auto", auto_blas_threads: Union[int, Callable[[], int]] = 1,
                  flush_denormals: bool = True, reuse_heap: bool = True) -> Iterator[Optional[int]]:
    """Within the block: NumPy's BLAS on `blas_threads` threads (None: as they are; "auto": `auto_blas_threads`
    unless the environment chose), subnormal floats flushed to zero in this thread, freed blocks
    up to 32 MB kept in the heap. On exit each is restored, the thread counts and floating-point
    flags exactly. Yields the BLAS threads in force (None when unknown)."""
    threads = blas_thread_count(blas_threads, auto_blas_threads)
    with reused_freed_memory(reuse_heap), limited_blas_threads(threads) as in_force, flushed_denormals(flush_denormals):
        yield in_force
