"""Relative error |a − n| / max(|a|, |n|, floor) and the verdict for one parameter.

Statuses: ok (≤ tol.ok: 1e-7 in float64), warn (≤ tol.warn: 1e-4), fail, zero (the loss does
not depend on the parameter here: both gradients are zero up to round-off, e.g. a bias that
batchnorm subtracts away), small (both gradients below the round-off level although the
analytic one is not negligible: drowned in round-off, nothing to judge), kink (entries whose
difference straddles a relu/max/abs/pool/hinge kink, where the analytic value lies between the
one-sided derivatives on either side: a valid subgradient), nonfinite (inf or nan).

At a kink the centered difference averages two slopes and means nothing; the one-sided
differences D− = (L(θ) − L(θ−h))/h and D+ = (L(θ+h) − L(θ))/h are the slopes on either side
(or a mix of them when the kink lies inside the step). A valid analytic value lies between
them; one outside both is a failure. A kink is known from the layer's `kink_state()`, or,
where the code has none (plain functions), from D− and D+ disagreeing by far more than the
smooth curvature allows (KINK_JUMP of their size) at an entry that fails.

Floors. The numeric gradient carries round-off ε·|L|/h (ε of the dtype checked): the two
losses agree to about ε·|L| and their difference is divided by 2h. `noise = ε·max|L|/h`. An
entry whose two gradients are both below SMALL_FACTOR·noise is "small". The denominator of
the relative error is never below (10/tol.ok)·noise, so an absolute disagreement of 10·noise
(round-off, not a bug) reads as ≤ tol.ok however small the gradient is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

SMALL_FACTOR = 100.0
KINK_JUMP = 1e-2  # |D+ − D−| above this share of max(|D±|) at a failing entry: a kink
ZERO_SHARE = 1e-10  # analytic below this share of the objective's largest gradient: "zero"
PASSING = ("ok", "warn", "small", "kink", "zero")


@dataclass(frozen=True)
class Tolerance:
    """Step and thresholds for one dtype, from its machine epsilon ε.

    float64 keeps the lecture's rule of thumb (ok ≤ 1e-7, warn ≤ 1e-4) at h = 1e-5. float32:
    a centered difference balances truncation (~h²) against round-off (~ε/h) at h ≈ ε^(1/3),
    where its error is ≈ ε^(2/3) (2.4e-5 for float32's ε = 1.2e-7); h = 5e-3, ok ≤ 1e-3 (40×
    that: the loss's float32 sum adds √n·ε), warn ≤ 1e-2.
    """

    dtype: str
    eps: float
    h: float
    directional_h: float
    ok: float
    warn: float

    @property
    def denominator_factor(self) -> float:
        return 10.0 / self.ok


FLOAT64 = Tolerance("float64", float(np.finfo(np.float64).eps), 1e-5, 1e-4, 1e-7, 1e-4)
FLOAT32 = Tolerance("float32", float(np.finfo(np.float32).eps), 5e-3, 5e-2, 1e-3, 1e-2)
TOLERANCES = {"float64": FLOAT64, "float32": FLOAT32}

# float64 values kept for callers that predate dtypes
OK_MAX = FLOAT64.ok
WARN_MAX = FLOAT64.warn
EPS = FLOAT64.eps
DENOMINATOR_FACTOR = FLOAT64.denominator_factor


def tolerance_for(dtype) -> Tolerance:
    name = np.dtype(dtype).name
    if name not in TOLERANCES:
        raise ValueError(f"gradient checks run in float64 or float32, not {name}")
    return TOLERANCES[name]


def noise_level(losses, h: float, eps: float = EPS) -> float:
    """Round-off of a centered difference: ε·max|L|/h (never below ε·tiny/h)."""
    scale = max((abs(float(v)) for v in losses if np.isfinite(v)), default=0.0)
    return eps * max(scale, 1e-30) / h


def relative_errors(analytic, numeric, floor: float) -> np.ndarray:
    """|a − n| / max(|a|, |n|, floor), elementwise."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    return np.abs(a - n) / denom


def status_of(rel_error: float, tol: Tolerance = FLOAT64) -> str:
    if not np.isfinite(rel_error):
        return "fail"
    if rel_error <= tol.ok:
        return "ok"
    if rel_error <= tol.warn:
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
    kinks: int = 0  # entries whose difference crossed a kink (judged by the one-sided slopes)
    small: int = 0  # entries with both gradients below the round-off floor
    kink_details: list = field(default_factory=list)  # [(index, KinkCrossing)] first few
    hints: list = field(default_factory=list)
    message: str = ""  # e.g. a shape mismatch
    probe: Optional[object] = field(default=None, repr=False, compare=False)  # redo a difference (sweep)
    one_sided: Optional[tuple] = None  # (D−, D+) at the worst entry when it is at a kink
    precision: Optional[float] = None  # float32 checks: max|g32 − g64| / max|g64| of the analytic
    kink_sides: list = field(default_factory=list)  # [(label, D−, D+, analytic)] first few kinked entries

    @property
    def passed(self) -> bool:
        return self.status in PASSING


def _between(a, lower, upper, slack) -> np.ndarray:
    lo, hi = np.minimum(lower, upper), np.maximum(lower, upper)
    return (a >= lo - slack) & (a <= hi + slack)


def judge(
    name: str, shape: tuple, labels: list, analytic: np.ndarray, numeric: np.ndarray,
    kinked: np.ndarray, noise: float, *, one_sided: Optional[tuple] = None,
    tol: Tolerance = FLOAT64, scale: Optional[float] = None, several: Optional[np.ndarray] = None,
) -> Check:
    """Verdict from per-entry values; `labels[i]` names entry i (an index or a direction).

    `one_sided` = (D−, D+) per entry; `scale` = the largest |analytic| of the objective;
    `several[i]`: entry i's step moved several kink inputs at once (e.g. an input of exactly 0
    feeding many relus). Then the loss along the step has several kinks in it and backprop's
    per-unit choice (relu'(0) = 0 for each unit) need not lie between D− and D+, so such an
    entry is reported as a kink and not judged.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    kinked = np.asarray(kinked, dtype=bool).copy()
    rel = relative_errors(analytic, numeric, tol.denominator_factor * noise)
    small = (np.abs(analytic) < SMALL_FACTOR * noise) & (np.abs(numeric) < SMALL_FACTOR * noise)
    outside = np.zeros(len(labels), dtype=bool)
    if one_sided is not None and len(labels):
        lower, upper = (np.asarray(s, dtype=np.float64) for s in one_sided)
        size = np.maximum(np.maximum(np.abs(lower), np.abs(upper)), SMALL_FACTOR * noise)
        jumped = (np.abs(upper - lower) > KINK_JUMP * size) & (rel > tol.ok) & ~small
        kinked |= jumped
        slack = tol.warn * size + 10 * noise  # one-sided differences carry O(h) truncation
        several = np.zeros(len(labels), dtype=bool) if several is None else np.asarray(several, dtype=bool)
        outside = kinked & ~several & ~_between(analytic, lower, upper, slack)
    small &= ~kinked
    judged = ~kinked & ~small
    n = len(labels)
    broken = ~np.isfinite(analytic) | ~np.isfinite(numeric)
    sides = None
    if np.any(broken):
        worst = int(np.flatnonzero(broken)[0])
        max_rel, status = float("nan"), "nonfinite"
    elif np.any(outside) and not np.any(judged & (rel > tol.warn)):
        worst = int(np.flatnonzero(outside)[np.argmax(rel[outside])])
        max_rel, status = float(rel[worst]), "fail"
    elif np.any(judged):
        worst = int(np.flatnonzero(judged)[np.argmax(np.where(np.isnan(rel[judged]), np.inf, rel[judged]))])
        max_rel = float(rel[worst])
        status = status_of(max_rel, tol)
        if status in ("ok", "warn") and np.any(outside):
            worst = int(np.flatnonzero(outside)[np.argmax(rel[outside])])
            max_rel, status = float(rel[worst]), "fail"
        elif status == "ok" and np.any(kinked) and float(np.max(rel[kinked])) > tol.ok:
            status = "kink"
    elif np.any(kinked):
        pool = outside if np.any(outside) else kinked
        worst = int(np.flatnonzero(pool)[np.argmax(rel[pool])])
        max_rel, status = float(rel[worst]), ("fail" if np.any(outside) else "kink")
    elif n:
        worst = int(np.argmax(rel))
        max_rel = float(rel[worst])
        top = float(np.max(np.abs(analytic)))
        negligible = top == 0.0 or (scale is not None and top <= ZERO_SHARE * scale)
        status = "zero" if negligible else "small"
    else:
        return Check(name, tuple(shape), 0, 0.0, "small", None, None, None)
    kink_sides = []
    if one_sided is not None:
        if kinked[worst]:
            sides = (float(one_sided[0][worst]), float(one_sided[1][worst]))
        kink_sides = [(labels[i], float(one_sided[0][i]), float(one_sided[1][i]), float(analytic[i]))
                      for i in np.flatnonzero(kinked)[:3]]
    return Check(
        name, tuple(shape), n, max_rel, status, labels[worst], float(analytic[worst]),
        float(numeric[worst]), kinks=int(np.sum(kinked)), small=int(np.sum(small)), one_sided=sides,
        kink_sides=kink_sides,
    )


def mismatch(name: str, shape: tuple, analytic_shape, message: str) -> Check:
    """A failed check whose analytic gradient could not be compared entry by entry."""
    return Check(name, tuple(shape), 0, float("inf"), "fail", None, None, None, message=message)
