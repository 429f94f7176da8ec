"""Mini-batches: seeded shuffling, float32 C-contiguous batches, no copy when none is needed."""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from bpcli.errors import DataError


def iterate_batches(
    X: np.ndarray,
    y: Optional[np.ndarray],
    batch_size: Optional[int],
    rng: Optional[np.random.Generator],
    shuffle: bool = True,
    reuse_buffers: bool = False,
) -> Iterator[tuple[np.ndarray, Optional[np.ndarray]]]:
    """(Xb, yb) pairs covering every example once; the last batch may be smaller.

    batch_size None (or >= N) yields X and y themselves: one full batch, no copy, no draw from
    rng (the order of a full batch does not change its gradient). Without shuffle, batches
    are contiguous views of X; with it, a permutation from `rng` picks each batch (one copy).
    reuse_buffers=True gathers every shuffled batch into the same two arrays (no allocation per
    step): each batch is valid only until the next one is drawn.
    """
    n = len(X)
    if y is not None and len(y) != n:
        raise DataError(f"{n} inputs but {len(y)} labels")
    if batch_size is not None and batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    if batch_size is None or batch_size >= n:
        yield X, y
        return
    if not shuffle:
        for start in range(0, n, batch_size):
            stop = start + batch_size
            yield X[start:stop], (None if y is None else y[start:stop])
        return
    if rng is None:
        raise DataError("shuffled batches need a random generator")
    order = rng.permutation(n)
    if not reuse_buffers:
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            yield X.take(index, axis=0), (None if y is None else y.take(index))
        return
    X_buf = np.empty((batch_size,) + X.shape[1:], dtype=X.dtype)
    y_buf = None if y is None else np.empty((batch_size,) + y.shape[1:], dtype=y.dtype)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        m = len(index)
        Xb = np.take(X, index, axis=0, out=X_buf[:m])
        yb = None if y is None else np.take(y, index, axis=0, out=y_buf[:m])
        yield Xb, yb
