"""Centered differences (in the dtype of the arrays): every entry, k random entries per tensor, or directions.

∂L/∂θᵢ ≈ (L(θ + h·eᵢ) − L(θ − h·eᵢ)) / 2h  and  ∇L·v ≈ (L(θ + h·v) − L(θ − h·v)) / 2h.
Randomness is held fixed by the objective: its `value()` reseeds every noise source first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from bpcli.gradcheck.kinks import KinkCrossing, KinkWatch
from bpcli.gradcheck.objective import Objective


@dataclass
class Difference:
    """One centered difference: the estimate, both losses, and any kink crossed."""

    numeric: float
    loss_plus: float
    loss_minus: float
    kink: Optional[KinkCrossing] = None
    up: float = 0.0  # the steps actually taken up and down (one-sided slopes need them)
    down: float = 0.0


def _evaluate(objective: Objective, watch: Optional[KinkWatch]):
    value = float(objective.value())
    return value, (watch.snapshot() if watch is not None else None)


def entry_difference(
    objective: Objective, name: str, index: tuple, h: float, watch: Optional[KinkWatch] = None
) -> Difference:
    """(L(θᵢ+h) − L(θᵢ−h)) / (step actually taken): entry `index` of parameter `name`."""
    array = objective.params[name]
    old = float(array[index])
    h = max(h, _spacing(array, old))  # a step below one unit in the last place is no step
    array[index] = old + h
    up = float(array[index]) - old  # the step float64 really took
    plus, plus_state = _evaluate(objective, watch)
    array[index] = old - h
    down = old - float(array[index])
    minus, minus_state = _evaluate(objective, watch)
    array[index] = old
    kink = watch.crossing(plus_state, minus_state) if watch is not None else None
    return Difference((plus - minus) / (up + down), plus, minus, kink, up, down)


def _spacing(array: np.ndarray, value: float) -> float:
    """Two units in the last place of `value` in the array's dtype."""
    return 2.0 * float(np.spacing(array.dtype.type(abs(value)))) if array.dtype.kind == "f" else 0.0


def direction_difference(
    objective: Objective, direction: dict, h: float, watch: Optional[KinkWatch] = None
) -> Difference:
    """(L(θ+h·v) − L(θ−h·v)) / 2h for a direction v given as {name: array} (others zero)."""
    saved = {name: objective.params[name].copy() for name in direction}
    for name, v in direction.items():
        np.add(saved[name], h * v, out=objective.params[name])
    plus, plus_state = _evaluate(objective, watch)
    for name, v in direction.items():
        np.subtract(saved[name], h * v, out=objective.params[name])
    minus, minus_state = _evaluate(objective, watch)
    for name in direction:
        objective.params[name][...] = saved[name]
    kink = watch.crossing(plus_state, minus_state) if watch is not None else None
    return Difference((plus - minus) / (2.0 * h), plus, minus, kink, h, h)


def all_indices(shape: tuple) -> list[tuple]:
    """Every index of an array of `shape`, in C order (full mode)."""
    return list(np.ndindex(*shape))


def sampled_indices(shape: tuple, k: int, rng: np.random.Generator) -> list[tuple]:
    """k distinct random indices (all of them when the array has ≤ k entries), sorted."""
    size = int(np.prod(shape, dtype=np.int64))
    if size <= k:
        return all_indices(shape)
    flat = np.sort(rng.choice(size, size=k, replace=False))
    return [tuple(int(i) for i in idx) for idx in zip(*np.unravel_index(flat, shape))]


def random_direction(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """A random sign vector scaled to unit Euclidean norm: every entry is ±1/√n (Rademacher).

    A wrong gradient g′ ≠ g escapes a direction only when its error cancels exactly under the
    signs, (g′ − g)·v = 0: never for an error in a single entry, with probability ≤ 1/2 for the
    most adversarial one (two equal and opposite entries), 2⁻ᵏ over k directions. Signs are
    about 3× cheaper to draw than Gaussians for big tensors.
    """
    size = int(np.prod(shape, dtype=np.int64))
    signs = rng.integers(0, 2, size=shape, dtype=np.int8).astype(np.float64)
    signs *= 2.0
    signs -= 1.0
    signs *= 1.0 / np.sqrt(max(size, 1))
    return signs


def entry_differences(
    objective: Objective, name: str, indices: Iterable[tuple], h: float,
    watch: Optional[KinkWatch] = None,
) -> list[Difference]:
    """Centered differences at each index of parameter `name`."""
    return [entry_difference(objective, name, idx, h, watch) for idx in indices]
