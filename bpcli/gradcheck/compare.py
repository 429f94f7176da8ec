"""Relative error |a − n| / max(|a|, |n|, floor) and the verdict for one parameter.

Statuses: ok (≤ 1e-7), warn (≤ 1e-4), fail, small (every entry's analytic and numeric
gradients are below the round-off level: nothing to judge), kink (the only entries above 1e-7
crossed a relu/max/abs/pool/hinge kink within ±h: centered differences are invalid there),
nonfinite (an analytic or numeric gradient is inf or nan: something overflowed; not a verdict on
the backward pass, but a failure all the same).

Floors. The numeric gradient carries round-off ε·|L|/h (ε = 2.2e-16): the two losses agree to
about ε·|L| and their difference is divided by 2h. `noise = ε·max|L|/h`. An entry whose two
gradients are both below SMALL_FACTOR·noise is "small". The denominator of the relative error
is never below DENOMINATOR_FACTOR·noise, so an absolute disagreement of 10·noise (round-off,
not a bug) reads as ≤ 1e-7 however small the gradient is; a real bug on small gradients is
still far above that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

OK_MAX = 1e-7
WARN_MAX = 1e-4
EPS = float(np.finfo(np.float64).eps)
SMALL_FACTOR = 100.0
DENOMINATOR_FACTOR = 1e8  # = 10 · noise / OK_MAX
PASSING = ("ok", "warn", "small", "kink")


def noise_level(losses, h: float) -> float:
    """Round-off of a centered difference: ε·max|L|/h (never below ε·tiny/h)."""
    scale = max((abs(float(v)) for v in losses if np.isfinite(v)), default=0.0)
    return EPS * max(scale, 1e-30) / h


def relative_errors(analytic, numeric, floor: float) -> np.ndarray:
    """|a − n| / max(|a|, |n|, floor), elementwise."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    return np.abs(a - n) / denom


def status_of(rel_error: float) -> str:
    if not np.isfinite(rel_error):
        return "fail"
    if rel_error <= OK_MAX:
        return "ok"
    if rel_error <= WARN_MAX:
        return "warn"
    return "fail"


@dataclass
class Check:
    """The verdict for one parameter (or input) of one objective."""

    name: str
    shape: tuple
    entries: int  # entries (or directions) checked
    max_rel_error: float
    status: str
    worst_index: Optional[object]  # tuple index, or "v3" for a direction
    analytic: Optional[float]
    numeric: Optional[float]
    kinks: int = 0  # entries whose difference crossed a kink (excluded from the verdict)
    small: int = 0  # entries with both gradients below the round-off floor
    kink_details: list = field(default_factory=list)  # [(index, KinkCrossing)] first few
    hints: list = field(default_factory=list)
    message: str = ""  # e.g. a shape mismatch
    probe: Optional[object] = field(default=None, repr=False, compare=False)  # redo a difference (sweep)

    @property
    def passed(self) -> bool:
        return self.status in PASSING


def judge(
    name: str, shape: tuple, labels: list, analytic: np.ndarray, numeric: np.ndarray,
    kinked: np.ndarray, noise: float,
) -> Check:
    """Verdict from per-entry values; `labels[i]` names entry i (an index or a direction)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    kinked = np.asarray(kinked, dtype=bool)
    rel = relative_errors(analytic, numeric, DENOMINATOR_FACTOR * noise)
    small = (np.abs(analytic) < SMALL_FACTOR * noise) & (np.abs(numeric) < SMALL_FACTOR * noise)
    small &= ~kinked
    judged = ~kinked & ~small
    n = len(labels)
    broken = ~np.isfinite(analytic) | ~np.isfinite(numeric)
    if np.any(broken):
        worst = int(np.flatnonzero(broken)[0])
        max_rel, status = float("nan"), "nonfinite"
    elif np.any(judged):
        worst = int(np.flatnonzero(judged)[np.argmax(np.where(np.isnan(rel[judged]), np.inf, rel[judged]))])
        max_rel = float(rel[worst])
        status = status_of(max_rel)
        if status == "ok" and np.any(kinked) and float(np.max(rel[kinked])) > OK_MAX:
            status = "kink"
    elif np.any(kinked):
        worst = int(np.flatnonzero(kinked)[np.argmax(rel[kinked])])
        max_rel, status = float(rel[worst]), "kink"
    elif n:
        worst = int(np.argmax(rel))
        max_rel, status = float(rel[worst]), "small"
    else:
        return Check(name, tuple(shape), 0, 0.0, "small", None, None, None)
    return Check(
        name, tuple(shape), n, max_rel, status, labels[worst], float(analytic[worst]),
        float(numeric[worst]), kinks=int(np.sum(kinked)), small=int(np.sum(small)),
    )


def mismatch(name: str, shape: tuple, analytic_shape, message: str) -> Check:
    """A failed check whose analytic gradient could not be compared entry by entry."""
    return Check(name, tuple(shape), 0, float("inf"), "fail", None, None, None, message=message)
