"""Memory layouts of the fast spatial layers: arrays keep their logical (N, C, H, W) shape while
their memory may be channel-last (N, H, W, C) or channel-major (C, N, H, W).

A layer reads the layout from the strides and allocates what it returns in the same one, so a
conv's channel-last product travels through relu and pooling to the next conv without a
transposing copy; every other layer sees an ordinary NCHW array (NumPy follows the strides).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

NHWC = (0, 2, 3, 1)  # memory order of a channel-last array: axes from outermost to innermost
CNHW = (1, 0, 2, 3)  # memory order of a channel-major array


def memory_order(a: np.ndarray) -> tuple:
    """a's axes from the largest stride to the smallest (ties keep axis order): (0, 1, 2, 3) for C order."""
    if a.flags.c_contiguous:
        return tuple(range(a.ndim))  # every array of an MLP: answered without sorting strides
    return tuple(sorted(range(a.ndim), key=lambda axis: -abs(a.strides[axis])))


def empty_in_order(order: tuple, shape: tuple, dtype: Any) -> np.ndarray:
    """An uninitialized array of logical `shape` whose memory runs through the axes in `order`."""
    memory = np.empty([shape[axis] for axis in order], dtype=dtype)
    return memory.transpose(np.argsort(order))


def rows_view(a: np.ndarray) -> Optional[np.ndarray]:
    """(N·H·W, C) of an (N, C, H, W) array without copying: rows (n, h, w), columns c; a transposed
    view when a is channel-major; None when a's memory is neither channel-last nor channel-major."""
    n, c, h, w = a.shape
    last = a.transpose(NHWC)
    if last.flags.c_contiguous:
        return last.reshape(n * h * w, c)
    major = a.transpose(CNHW)
    if major.flags.c_contiguous:
        return major.reshape(c, n * h * w).T
    return None


def offset_view(x: np.ndarray, i: int, j: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """x[:, :, i + s·a, j + s·b] for a < ho, b < wo: the entries of an (N, C, H, W) array that kernel offset (i, j) sees."""
    return x[:, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]


def square(*options: Any) -> bool:
    """Whether every window option is one number: the case the fast spatial kernels handle. Non-square
    kernels, strides or padding are declined to the reference layer's code (same results)."""
    return all(isinstance(v, int) for v in options)
