"""A small, independent central-difference gradient for the nn tests (not bpcli.gradcheck)."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np


def numerical_gradient(
    f: Callable[[], float],
    x: np.ndarray,
    h: float = 1e-5,
    kinks: Optional[Callable[[], object]] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(df/dx by (f(x+h) - f(x-h)) / 2h entry by entry, mask of entries whose step crossed a kink).

    `f` reads x (modified in place and restored); `kinks`, if given, returns the discrete
    kink state (e.g. a relu mask) after the last f(); an entry whose ±h step changes it is marked.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    crossed = np.zeros(x.shape, dtype=bool)
    base = None
    if kinks is not None:
        f()
        base = _flat_state(kinks())
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        plus = f()
        if base is not None and not _same(_flat_state(kinks()), base):
            crossed[idx] = True
        x[idx] = old - h
        minus = f()
        if base is not None and not _same(_flat_state(kinks()), base):
            crossed[idx] = True
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
    return grad, crossed


def _flat_state(state: object) -> list:
    if state is None:
        return []
    if isinstance(state, dict):
        return [np.array(state[k], copy=True) for k in sorted(state)]
    return [np.array(state, copy=True)]


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))
