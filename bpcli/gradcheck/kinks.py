"""Kinks: which side of every relu/max/abs/pool/hinge kink each input was on at θ, θ+h, θ−h."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

MAX_POSITIONS = 4  # kink inputs recorded per site (the rest are counted)


@dataclass
class KinkSide:
    """One kink input that changed side: its position and its state at θ, θ+h, θ−h."""

    position: tuple
    at: object
    plus: object
    minus: object


@dataclass
class KinkCrossing:
    """The kink sites (layer / loss / gate) whose state changed while perturbing one entry."""

    sites: dict = field(default_factory=dict)  # site -> list[KinkSide] (first few)
    counts: dict = field(default_factory=dict)  # site -> number of kink inputs that changed

    def describe(self) -> str:
        parts = []
        for site, sides in self.sites.items():
            shown = ", ".join(
                f"{tuple(int(i) for i in s.position)}: θ={_plain(s.at)} θ+h={_plain(s.plus)} θ−h={_plain(s.minus)}"
                for s in sides
            )
            more = self.counts[site] - len(sides)
            parts.append(f"{site} [{shown}{f' +{more} more' if more > 0 else ''}]")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {
            site: {
                "changed": self.counts[site],
                "inputs": [
                    {"position": [int(i) for i in s.position], "at": _plain(s.at),
                     "plus": _plain(s.plus), "minus": _plain(s.minus)}
                    for s in sides
                ],
            }
            for site, sides in self.sites.items()
        }


def _plain(value):
    return value.item() if hasattr(value, "item") else value


class KinkWatch:
    """Remembers the kink states at θ and compares the states after θ+h and θ−h with them."""

    def __init__(self, read: Callable[[], dict]):
        self.read = read
        self.base: dict = {}

    def snapshot(self) -> dict:
        """Copies of the current kink states (the last evaluation's)."""
        return {k: np.array(v, copy=True) for k, v in (self.read() or {}).items() if v is not None}

    def set_base(self) -> None:
        """Record the states at θ (call right after evaluating at θ)."""
        self.base = self.snapshot()

    def crossing(self, plus: dict, minus: dict) -> Optional[KinkCrossing]:
        """The kink inputs whose side differs between θ, θ+h and θ−h; None when none moved."""
        found = KinkCrossing()
        for site, at in self.base.items():
            p, m = plus.get(site), minus.get(site)
            if p is None or m is None or p.shape != at.shape or m.shape != at.shape:
                continue
            moved = (p != at) | (m != at)
            if not np.any(moved):
                continue
            positions = np.argwhere(moved)
            found.counts[site] = len(positions)
            found.sites[site] = [
                KinkSide(tuple(pos), at[tuple(pos)], p[tuple(pos)], m[tuple(pos)])
                for pos in positions[:MAX_POSITIONS]
            ]
        return found if found.sites else None
