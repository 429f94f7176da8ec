"""What kind of mistake a failing gradient's pattern suggests (constant factor, sign, transpose,
a missing sum over the batch, a forgotten upstream gradient, an unset gradient)."""

from __future__ import annotations

from typing import Optional

import numpy as np

CLOSE = 1e-4  # relative agreement needed to call a rewritten gradient "the same"
CONSTANT_SPREAD = 1e-3  # max relative spread of analytic/numeric ratios for "a constant factor"


def _close(a: np.ndarray, b: np.ndarray, floor: float) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        return False
    denom = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return bool(np.all(np.abs(a - b) / denom <= CLOSE))


def _at(array: np.ndarray, indices: list) -> np.ndarray:
    return np.array([array[idx] for idx in indices], dtype=np.float64)


def shape_hint(name: str, analytic: np.ndarray, shape: tuple, indices: list, numeric: np.ndarray,
               batch: Optional[int], floor: float) -> str:
    """Why an analytic gradient of the wrong shape is wrong, where its values tell."""
    got = tuple(np.shape(analytic))
    base = f"{name}: the analytic gradient has shape {got} but the parameter has shape {tuple(shape)}"
    if analytic.ndim == 2 and analytic.T.shape == tuple(shape):
        if _close(_at(analytic.T, indices), numeric, floor):
            return base + (" and its transpose matches the numeric gradient: a transposed weight "
                           "gradient (for out = x @ W, dW = x.T @ dout, not dout.T @ x)")
        return base + ": it looks transposed (dW must have W's shape)"
    if batch and got == (batch,) + tuple(shape):
        summed = analytic.sum(axis=0)
        agrees = _close(_at(summed, indices), numeric, floor)
        return base + (" — one row per example: the bias gradient is not summed over the batch "
                       f"(use dout.sum(axis=0)){'; summed, it matches' if agrees else ''}")
    if np.size(analytic) == int(np.prod(shape)):
        if _close(_at(np.reshape(analytic, shape), indices), numeric, floor):
            return base + "; reshaped to the parameter's shape it matches: reshape it"
    return base


def value_hints(name: str, analytic_at: np.ndarray, numeric: np.ndarray, analytic: np.ndarray,
                indices: list, batch: Optional[int], floor: float,
                doubled: Optional[np.ndarray] = None) -> list[str]:
    """Hints for an analytic gradient of the right shape whose values disagree.

    `doubled` is the analytic gradient recomputed with the upstream gradient doubled.
    """
    hints: list[str] = []
    a, n = np.asarray(analytic_at, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if np.all(a == 0) and np.any(np.abs(n) > floor):
        return [f"{name}: the analytic gradient is zero where the numeric one is not: backward "
                f"never sets grads['{name.split('.')[-1]}'] (or zeroes it)"]
    if (doubled is not None and np.shape(doubled) == analytic.shape and np.any(analytic != 0)
            and np.allclose(doubled, analytic, rtol=1e-12, atol=0)):
        hints.append(f"{name}: the gradient did not change when the upstream gradient dout was "
                     "doubled: backward forgot to multiply by dout (it computes the gradient of "
                     "sum(out), not of ⟨dout, out⟩)")
    ratio = _constant_ratio(a, n, floor)
    if ratio is not None:
        if abs(ratio + 1) < 1e-3:
            hints.append(f"{name}: analytic ≈ −numeric everywhere: a sign error (the gradient "
                         "points the wrong way, e.g. a subtraction's second operand or a − in the "
                         "loss's derivative)")
        elif batch and batch > 1 and abs(ratio * batch - 1) < 1e-3:
            hints.append(f"{name}: analytic ≈ numeric / {batch} (the batch size): averaged over "
                         "the batch where the loss sums (or divided by N twice)")
        elif batch and batch > 1 and abs(ratio / batch - 1) < 1e-3:
            hints.append(f"{name}: analytic ≈ {batch} × numeric (the batch size): summed over "
                         "the batch where the loss averages (a missing / N)")
        elif abs(ratio - 1) > 1e-3:
            common = {2.0: "a factor 2 too many", 0.5: "a factor 2 missing (d(x²)/dx = 2x)"}
            named = next((t for c, t in common.items() if abs(ratio / c - 1) < 1e-3), None)
            hints.append(f"{name}: analytic/numeric ≈ {ratio:.4g} at every entry checked: off by "
                         f"a constant factor{f' — {named}' if named else ''}")
    wrong = np.abs(a - n) > 1e-4 * np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    if not hints and 0 < np.sum(wrong) <= max(1, len(a) // 10) and len(a) >= 5:
        hints.append(f"{name}: only {int(np.sum(wrong))} of {len(a)} entries disagree: if the layer "
                     "has a kink (relu, max, abs, a hinge), a difference may straddle it — define "
                     "kink_state() so the check can tell; otherwise look at those entries")
    if (analytic.ndim == 2 and analytic.shape[0] == analytic.shape[1] and analytic.shape[0] > 1
            and not _close(a, n, floor) and _close(_at(analytic.T, indices), n, floor)):
        hints.append(f"{name}: the transpose of the analytic gradient matches the numeric one: "
                     "a transposed weight gradient (dW = x.T @ dout, not its transpose)")
    return hints


def _constant_ratio(a: np.ndarray, n: np.ndarray, floor: float) -> Optional[float]:
    """analytic/numeric when it is the same at every entry with a clear gradient, else None."""
    clear = (np.abs(n) > floor) & (np.abs(a) > floor)
    if np.sum(clear) < 1 or np.any((np.abs(n) > floor) & (a == 0)):
        return None
    r = a[clear] / n[clear]
    center = float(np.median(r))
    if center == 0 or np.max(np.abs(r - center)) > CONSTANT_SPREAD * abs(center):
        return None
    return center
