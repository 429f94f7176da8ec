"""The number of threads NumPy's BLAS uses, read and limited at run time through threadpoolctl
(OpenBLAS, MKL, BLIS and the OpenMP runtime alike).

Why training pins it: the GEMMs of small and medium nets (batch 128, a few hundred units) take
well under a millisecond, so a second BLAS thread saves little, while OpenBLAS's worker threads
spin between calls; on a machine with other busy processes the main thread then waits for a
descheduled worker. Measured on a shared 2-core machine (784-256-128-10 MLP, batch 128, two
epochs of Fashion-MNIST): 56.5 s with OpenBLAS's 2 threads, 1.9 s with 1.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional

ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _blas_pools() -> list:
    """threadpoolctl's description of every BLAS loaded in this process (after NumPy's)."""
    import numpy  # noqa: F401  (loads NumPy's BLAS)
    from threadpoolctl import threadpool_info

    return [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]


def blas_threads() -> Optional[int]:
    """The thread count of NumPy's BLAS (the largest when several are loaded), or None when none is found."""
    pools = _blas_pools()
    return max(int(pool["num_threads"]) for pool in pools) if pools else None


def env_sets_threads() -> bool:
    """True when the environment chooses BLAS threads itself (OPENBLAS_NUM_THREADS and the like)."""
    return any(os.environ.get(var) for var in ENV_VARS)


@contextmanager
def limited_blas_threads(n: Optional[int]) -> Iterator[Optional[int]]:
    """Run the block with every loaded BLAS on n threads (None: leave them as they are), then
    restore each one's count. Yields the count in force inside the block (None when unknown)."""
    if n is None or not _blas_pools():
        yield blas_threads() if n is None else None
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(n), user_api="blas"):
        yield blas_threads()
