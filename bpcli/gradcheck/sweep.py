"""--h-sweep: the error at one entry for h = 1e-1 … 1e-10 (truncation error ~h², round-off ~ε/h).

Each point carries the table's relative error, |a − n| / max(|a|, |n|, floor) with the floor the
table used at the checked h (so the two agree at that h), and the same error with no floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from bpcli.gradcheck.compare import relative_errors

SWEEP_STEPS = tuple(10.0 ** -e for e in range(1, 11))


@dataclass
class SweepPoint:
    h: float
    numeric: float
    rel_error: float  # |a − n| / max(|a|, |n|, floor): what the table reports
    raw_rel_error: float  # |a − n| / max(|a|, |n|), no floor


@dataclass
class Sweep:
    """Where the sweep was taken, the table's denominator floor, and what each h gave."""

    name: str
    where: object  # index or direction label
    analytic: float
    points: list
    floor: float = 0.0

    def best(self) -> SweepPoint:
        return min(self.points, key=lambda p: (np.nan_to_num(p.rel_error, nan=np.inf), -p.h))

    def order(self) -> Optional[float]:
        """The slope of log(error) against log(h) where truncation dominates (h above the best
        h, error clearly above the best): ≈ 2 for a right gradient, ≈ 0 for a wrong one."""
        usable = [p for p in self.points if np.isfinite(p.raw_rel_error) and p.raw_rel_error > 0]
        if len(usable) < 3:
            return None
        best = min(usable, key=lambda p: p.raw_rel_error)
        side = [p for p in usable if p.h >= best.h and p.raw_rel_error > 10 * best.raw_rel_error]
        wrong = best.raw_rel_error > 1e-3  # the error never gets small: look at the plateau
        if wrong:
            side = [p for p in usable if p.h >= best.h]
        if len(side) < 2:
            return None
        logs_h = np.log10([p.h for p in side])
        logs_e = np.log10([p.raw_rel_error for p in side])
        return float(np.polyfit(logs_h, logs_e, 1)[0])

    def order_meaning(self) -> str:
        """What the measured order says."""
        order = self.order()
        if order is None:
            return ("convergence order not measured: the error is at round-off for every h (the "
                    "loss is linear or quadratic along this entry, so the difference is exact)")
        said = f"measured convergence order {order:.2f} (error ∝ h^{order:.1f}): "
        if abs(order - 2) <= 0.4:
            return said + "as a centered difference converges when the analytic gradient is right"
        if abs(order - 1) <= 0.4:
            return said + ("first order: a kink or a jump in the derivative within the steps (relu, "
                           "max, abs), or a one-sided difference — the centered one should give 2")
        if abs(order) <= 0.4:
            return said + ("the error does not shrink with h: the analytic gradient itself is wrong "
                           f"(by about {self.best().raw_rel_error:.1e} relative)")
        return said + ("neither 2 (right), 1 (a kink) nor 0 (a wrong gradient): a function "
                       "that is not smooth at this scale, or round-off mixed into the large-h errors")


def h_sweep(name: str, where, analytic: float, numeric_at: Callable[[float], float],
            floor: float = 0.0, steps=SWEEP_STEPS) -> Sweep:
    """Recompute the centered difference at one place for every h in `steps`."""
    points = []
    for h in steps:
        n = float(numeric_at(h))
        floored = float(relative_errors(analytic, n, floor)) if floor > 0 else _raw(analytic, n)
        points.append(SweepPoint(h, n, floored, _raw(analytic, n)))
    return Sweep(name, where, float(analytic), points, floor)


def _raw(analytic: float, numeric: float) -> float:
    denom = max(abs(analytic), abs(numeric))
    return abs(analytic - numeric) / denom if denom > 0 else 0.0
