"""Small array functions shared by layers and losses."""

from __future__ import annotations

import functools

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^-x) for x ≥ 0 and e^x / (1 + e^x) for x < 0, with z = e^-|x|: no
    overflow, and relative precision on both sides (0.5 + 0.5·tanh(x/2) returns 0 at x = -20 in
    float32, where σ is 2e-9); x's dtype."""
    z = np.abs(x)
    np.negative(z, out=z)
    np.exp(z, out=z)
    out = np.where(x >= 0, x.dtype.type(1), z)
    z += z.dtype.type(1)
    out /= z
    return out


def softmax_numerator(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(e, total, shift): e = exp(x - shift), total = Σ e over axis 1 (keepdims); softmax = e / total.

    The shift is x's global max (one fast reduction) instead of each row's max (a slow
    short-axis reduction); only when some row then sums below sqrt(tiny), so that it could
    lose precision to underflow, is it recomputed with per-row maxima.
    """
    shift = x.max()
    e = x - shift
    np.exp(e, out=e)
    total = _feature_sums(e)
    if total.min() < _underflow_risk(e.dtype):
        shift = x.max(axis=1, keepdims=True)
        np.subtract(x, shift, out=e)
        np.exp(e, out=e)
        total = _feature_sums(e)
    return e, total, np.asarray(shift)


def _feature_sums(e: np.ndarray) -> np.ndarray:
    """Σ e over axis 1, keepdims; for (N, C) a BLAS gemv with ones (3-4x faster than a short-axis sum)."""
    if e.ndim == 2:
        return np.matmul(e, _ones_column(e.shape[1], e.dtype))
    return e.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=16)
def _ones_column(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones((n, 1), dtype=dtype)
    ones.flags.writeable = False
    return ones


@functools.lru_cache(maxsize=8)
def _underflow_risk(dtype: np.dtype) -> float:
    """sqrt(tiny): a row total below it may have lost precision to underflow."""
    return float(np.sqrt(np.finfo(dtype).tiny))
