"""--h-sweep: the error at one entry for h = 1e-1 … 1e-10 (truncation error ~h², round-off ~ε/h).

Each point carries the table's relative error, |a − n| / max(|a|, |n|, floor) with the floor the
table used at the checked h (so the two agree at that h), and the same error with no floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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
