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
        """In words: which unit of which example crossed which side of its kink, and when.

        E.g. "relu1, example 5, unit 51: off (≤ 0) at θ, on (> 0) at θ+h". Boolean states
        are read as a kink input's side of zero (relu's mask, a hinge's active margin); other
        states (a pooling window's argmax) are shown as values.
        """
        parts = []
        for site, sides in self.sites.items():
            for s in sides:
                parts.append(f"{site}, {_position_words(s.position, site)}: {_word(s.at)} at θ"
                             + (f", {_word(s.plus)} at θ+h" if _plain(s.plus) != _plain(s.at) else "")
                             + (f", {_word(s.minus)} at θ−h" if _plain(s.minus) != _plain(s.at) else ""))
            more = self.counts[site] - len(sides)
            if more > 0:
                parts.append(f"{site}: {more} more unit{'s' if more != 1 else ''} crossed")
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


def _word(state) -> str:
    value = _plain(state)
    if isinstance(value, (bool,)) or str(value) in ("True", "False"):
        return "on (> 0)" if str(value) == "True" else "off (≤ 0)"
    return f"state {value}"


def _position_words(position: tuple, site: str) -> str:
    """(5, 51) -> 'example 5, unit 51'; (0, 2, 1, 3) -> 'example 0, channel 2, row 1, column 3'."""
    index = tuple(int(i) for i in position)
    if site == "gates" and len(index) == 1:
        return f"gate {index[0]}"
    if len(index) == 1:
        return f"entry {index[0]}"
    head = f"example {index[0]}"
    rest = index[1:]
    if len(rest) == 1:
        return f"{head}, {'class' if site == 'loss' else 'unit'} {rest[0]}"
    if len(rest) == 3:
        return f"{head}, channel {rest[0]}, row {rest[1]}, column {rest[2]}"
    return f"{head}, unit {rest}"


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
