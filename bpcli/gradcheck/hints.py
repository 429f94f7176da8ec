"""What kind of mistake a failing gradient's pattern suggests, read from the structure of the
analytic gradient a against the numeric one n, never from the layer's name.

Patterns: all zero; unchanged when dout doubles (dout forgotten); a/n constant (−1: a sign; N:
the batch size; 2 or ½); a/n constant along each row or each column; a − n the same for every
example (a batch-shared term missing); a − n proportional to the parameter (regularization);
exactly zero where n is not, or non-zero where n is zero (a path dropped or a gate left open);
errors only on the spatial border (padding) or with a period on the spatial axes (stride); the
transpose matches; right with one example only (examples mixed); agreement only on the
Jacobian's diagonal (cross terms dropped). Each test asks for a clear pattern over several
entries, so a correct gradient (which never reaches here) or noise does not produce one.
"""

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


def _agree(a: np.ndarray, n: np.ndarray, floor: float) -> np.ndarray:
    return np.abs(a - n) <= CLOSE * np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)


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
                doubled: Optional[np.ndarray] = None, values: Optional[np.ndarray] = None) -> list[str]:
    """Hints for an analytic gradient of the right shape whose values disagree.

    `doubled` is the analytic gradient recomputed with the upstream gradient doubled; `values`
    the parameter's own values at `indices`.
    """
    hints: list[str] = []
    a, n = np.asarray(analytic_at, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if np.all(a == 0) and np.any(np.abs(n) > floor):
        return [f"{name}: the analytic gradient is zero where the numeric one is not: backward "
                f"never sets this gradient (or zeroes it), or the path to it is not backpropagated"]
    if (doubled is not None and np.shape(doubled) == analytic.shape and np.any(analytic != 0)
            and np.allclose(doubled, analytic, rtol=1e-12, atol=0)):
        hints.append(f"{name}: the gradient did not change when the upstream gradient dout was "
                     "doubled: backward forgot to multiply by dout (it computes the gradient of "
                     "sum(out), not of ⟨dout, out⟩)")
    ratio = _constant_ratio(a, n, floor)
    if ratio is not None:
        hints.extend(_ratio_hint(name, ratio, batch))
    else:
        hints.extend(_structure_hints(name, a, n, indices, batch, floor, values))
    wrong = ~_agree(a, n, floor)
    if not hints and 0 < np.sum(wrong) <= max(1, len(a) // 10) and len(a) >= 5:
        hints.append(f"{name}: only {int(np.sum(wrong))} of {len(a)} entries disagree: if the layer "
                     "has a kink (relu, max, abs, a hinge), a difference may straddle it — define "
                     "kink_state() so the check can tell; otherwise look at those entries")
    if (analytic.ndim == 2 and analytic.shape[0] == analytic.shape[1] and analytic.shape[0] > 1
            and not _close(a, n, floor) and _close(_at(analytic.T, indices), n, floor)):
        hints.append(f"{name}: the transpose of the analytic gradient matches the numeric one: "
                     "a transposed weight gradient (dW = x.T @ dout, not its transpose)")
    return hints


def _ratio_hint(name: str, ratio: float, batch: Optional[int]) -> list[str]:
    if abs(ratio + 1) < 1e-3:
        return [f"{name}: analytic ≈ −numeric everywhere: a sign error (the gradient "
                "points the wrong way, e.g. a subtraction's second operand or a − in the "
                "loss's derivative)"]
    if batch and batch > 1 and abs(ratio * batch - 1) < 1e-3:
        return [f"{name}: analytic ≈ numeric / {batch} (the batch size): averaged over "
                "the batch where the loss sums (or divided by N twice)"]
    if batch and batch > 1 and abs(ratio / batch - 1) < 1e-3:
        return [f"{name}: analytic ≈ {batch} × numeric (the batch size): summed over "
                "the batch where the loss averages (a missing / N)"]
    if abs(ratio - 1) > 1e-3:
        common = {2.0: "a factor 2 too many", 0.5: "a factor 2 missing (d(x²)/dx = 2x)"}
        named = next((t for c, t in common.items() if abs(ratio / c - 1) < 1e-3), None)
        return [f"{name}: analytic/numeric ≈ {ratio:.4g} at every entry checked: off by "
                f"a constant factor{f' — {named}' if named else ''}"]
    return []


def _structure_hints(name: str, a: np.ndarray, n: np.ndarray, indices: list,
                     batch: Optional[int], floor: float, values: Optional[np.ndarray]) -> list[str]:
    """Patterns that are not one constant ratio: the first that fits."""
    wrong = ~_agree(a, n, floor)
    if not np.any(wrong):
        return []
    clear_n = np.abs(n) > floor
    clear_a = np.abs(a) > floor
    if np.sum(wrong) >= 2 and np.all((a[wrong] == 0) & clear_n[wrong]):
        return [f"{name}: the analytic gradient is exactly 0 at {int(np.sum(wrong))} of {len(a)} "
                "entries where the numeric one is not, and right elsewhere: a path whose gradient "
                "is not sent back (a branch dropped, a mask that blocks too much, windows or "
                "positions the backward loop never visits)"]
    leaking = wrong & ~clear_n & clear_a & (np.abs(a) > 1e3 * floor)
    if np.sum(leaking) >= 2 and np.sum(leaking) * 2 >= np.sum(wrong):
        rest = "and right elsewhere" if np.all(leaking[wrong]) else f"of {int(np.sum(wrong))} wrong ones"
        return [f"{name}: the analytic gradient is non-zero at {int(np.sum(leaking))} of {len(a)} "
                f"entries where the numeric one is 0 (the loss does not depend on them) {rest}: a "
                "gate lets gradient through that should block it (relu's mask, the entries of a "
                "pooling window that were not the max, units dropout removed)"]
    spatial = _spatial_hint(name, wrong, indices)
    if spatial:
        return [spatial]
    grouped = _grouped_ratio_hint(name, a, n, indices, floor)
    if grouped:
        return [grouped]
    if batch and batch > 1 and indices and len(indices[0]) >= 2:
        shared = _per_feature_difference(a - n, indices, batch)
        if shared:
            return [f"{name}: the error a − n is the same for every example (it depends only on "
                    "the feature): a term shared by the whole batch is missing or extra — e.g. the "
                    "gradient through the batch mean in a normalization layer (−Σ over the batch "
                    "of the upstream gradient, / N)"]
    if values is not None:
        c = _proportional(a - n, np.asarray(values, dtype=np.float64))
        if c is not None:
            return [f"{name}: a − n ≈ {c:.4g} × the parameter's own value at every entry: the "
                    "gradient of a term proportional to the parameter is missing or has the wrong "
                    "factor — usually the regularization (d/dW of λ·ΣW² is 2λW; of ½λ·ΣW², λW)"]
    return []


def _constant_ratio(a: np.ndarray, n: np.ndarray, floor: float) -> Optional[float]:
    """analytic/numeric when it is the same at every entry with a clear gradient, else None."""
    clear = (np.abs(n) > floor) & (np.abs(a) > floor)
    if np.sum(clear) < 1 or np.any((np.abs(n) > floor) & (a == 0)):
        return None
    if np.any((np.abs(a) > floor) & (np.abs(n) <= floor) & (np.abs(a) > 1e3 * floor)):
        return None  # non-zero where the numeric is zero: not a scaling
    r = a[clear] / n[clear]
    center = float(np.median(r))
    if center == 0 or np.max(np.abs(r - center)) > CONSTANT_SPREAD * abs(center):
        return None
    return center


def _constant_within(groups: dict, spread: float) -> Optional[dict]:
    """{key: value} when each group's values agree within `spread` (relative), else None."""
    out = {}
    for key, vals in groups.items():
        v = np.asarray(vals)
        center = float(np.median(v))
        if np.max(np.abs(v - center)) > spread * max(abs(center), 1e-300):
            return None
        out[key] = center
    return out


def _grouped_ratio_hint(name: str, a: np.ndarray, n: np.ndarray, indices: list,
                        floor: float) -> Optional[str]:
    """a/n constant along each row (depends on the first index only) or each column (last)."""
    if not indices or len(indices[0]) < 2:
        return None
    clear = (np.abs(n) > floor) & (np.abs(a) > floor)
    if np.sum(clear) < 4 or np.any((np.abs(n) > floor) & (a == 0)):
        return None
    ratios = a[clear] / n[clear]
    kept = [idx for idx, c in zip(indices, clear) if c]
    for axis, what in ((0, "row (example)"), (len(indices[0]) - 1, "column (feature)"), (1, "channel")):
        if axis >= len(indices[0]) or (what == "channel" and len(indices[0]) < 4):
            continue
        groups: dict = {}
        for idx, r in zip(kept, ratios):
            groups.setdefault(idx[axis], []).append(r)
        if len(groups) < 2 or max(len(g) for g in groups.values()) < 2:
            continue
        found = _constant_within(groups, CONSTANT_SPREAD)
        if found is None:
            continue
        values = np.array(list(found.values()))
        if np.max(values) - np.min(values) > CONSTANT_SPREAD * np.max(np.abs(values)):
            shown = ", ".join(f"{v:.3g}" for v in list(values)[:4]) + (" …" if len(values) > 4 else "")
            return (f"{name}: analytic/numeric is constant along each {what} but differs between "
                    f"them ({shown}): a per-{what.split()[0]} scale is missing or extra — e.g. a "
                    "normalizer such as a standard deviation per feature, or a weight per example")
    return None


def _per_feature_difference(diff: np.ndarray, indices: list, batch: int) -> bool:
    """diff depends only on idx[1:] (not on the example), is not zero, and was seen for 2+ examples."""
    groups: dict = {}
    for idx, d in zip(indices, diff):
        groups.setdefault(tuple(idx[1:]), []).append(d)
    if max(len(g) for g in groups.values()) < 2:
        return False
    size = float(np.max(np.abs(diff)))
    if size == 0:
        return False
    for vals in groups.values():
        v = np.asarray(vals)
        if np.max(v) - np.min(v) > 1e-4 * size:
            return False
    return True


def _proportional(diff: np.ndarray, values: np.ndarray) -> Optional[float]:
    """c when diff ≈ c·values at every entry (least squares, small residual), else None."""
    if values.shape != diff.shape or len(diff) < 3 or not np.any(values):
        return None
    c = float(np.dot(diff, values) / np.dot(values, values))
    if c == 0 or np.max(np.abs(diff - c * values)) > 1e-4 * np.max(np.abs(diff)):
        return None
    return c


def _spatial_hint(name: str, wrong: np.ndarray, indices: list) -> Optional[str]:
    """For (N, C, H, W)-like arrays: wrong only on the border, or with a period along H, W."""
    if not indices or len(indices[0]) < 3 or np.all(wrong) or len(indices) < 16:
        return None
    hs = np.array([idx[-2] for idx in indices])
    ws = np.array([idx[-1] for idx in indices])
    H, W = int(hs.max()) + 1, int(ws.max()) + 1
    if H < 3 or W < 3:
        return None
    for depth in (1, 2):
        border = (hs < depth) | (hs >= H - depth) | (ws < depth) | (ws >= W - depth)
        if np.any(wrong) and np.all(border[wrong]) and np.any(~border):
            rows = "row or column" if depth == 1 else f"{depth} rows or columns"
            return (f"{name}: only entries near the border (within the outer {rows}) are wrong, "
                    "the interior is right: padding — the gradient of the padded array cropped at "
                    "the wrong offset, or the windows that overlap the padding skipped or given "
                    "the wrong part of the kernel")
    for period in (2, 3):
        if H < 2 * period and W < 2 * period:
            continue
        cells: dict = {}
        for h, w, bad in zip(hs, ws, wrong):
            cells.setdefault((h % period, w % period), set()).add(bool(bad))
        if all(len(v) == 1 for v in cells.values()) and len({next(iter(v)) for v in cells.values()}) == 2:
            bad_cells = sorted((int(h), int(w)) for (h, w), v in cells.items() if True in v)
            return (f"{name}: the errors repeat with period {period} along the rows and columns "
                    f"(wrong at offsets {', '.join(map(str, bad_cells[:4]))}"
                    f"{' …' if len(bad_cells) > 4 else ''} of each {period}×{period} block): the "
                    "stride — where strided windows overlap, a contribution assigned (=) instead "
                    "of added (+=); windows stepped by the wrong stride; or some offsets within "
                    "it mishandled")
    return None


def batch_one_hint(name: str, batch: int) -> str:
    return (f"{name}: right with one example, wrong with {batch}: the examples are mixed — a sum "
            "or mean over the wrong axis, a normalization over the whole batch instead of each "
            "row, or an index that assumes a single example")


def diagonal_hint(name: str) -> str:
    return (f"{name}: with a one-hot upstream gradient (one row of the Jacobian) the analytic "
            "gradient is zero off the diagonal of the Jacobian where the numeric one is not: "
            "backward treats the layer as elementwise and drops the cross terms ∂out_i/∂x_j "
            "(i ≠ j) that a softmax or a normalization over several entries has")
