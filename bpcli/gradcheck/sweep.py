"""--h-sweep: the error at one entry for h = 1e-1 … 1e-10 (truncation error ~h², round-off ~ε/h)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

SWEEP_STEPS = tuple(10.0 ** -e for e in range(1, 11))


@dataclass
class SweepPoint:
    h: float
    numeric: float
    rel_error: float  # |a − n| / max(|a|, |n|), no floor


@dataclass
class Sweep:
    """Where the sweep was taken and what each h gave."""

    name: str
    where: object  # index or direction label
    analytic: float
    points: list

    def best(self) -> SweepPoint:
        return min(self.points, key=lambda p: (np.nan_to_num(p.rel_error, nan=np.inf), -p.h))


def h_sweep(name: str, where, analytic: float, numeric_at: Callable[[float], float],
            steps=SWEEP_STEPS) -> Sweep:
    """Recompute the centered difference at one place for every h in `steps`."""
    points = []
    for h in steps:
        n = float(numeric_at(h))
        denom = max(abs(analytic), abs(n))
        rel = abs(analytic - n) / denom if denom > 0 else 0.0
        points.append(SweepPoint(h, n, rel))
    return Sweep(name, where, float(analytic), points)
