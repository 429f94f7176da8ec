"""Ranges for options by name: a `units` is a positive count wherever it appears.

Registry entries may also carry their own bounds with `typing.Annotated[int, annotated_types.Gt(0)]`
(read by `bounds_of`), and may raise ValueError in `__init__`, which validation places at the
layer's line. This table covers the names every entry shares, so new entries get it for free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class Bounds:
    """lo < value (or lo <= value when lo_inclusive), likewise for hi."""

    lo: Optional[float] = None
    lo_inclusive: bool = True
    hi: Optional[float] = None
    hi_inclusive: bool = True

    def violation(self, value: float) -> Optional[str]:
        """A message when value is out of range, else None."""
        if isinstance(value, float) and math.isnan(value):
            return "must be a number, not nan"
        if self.lo is not None and (value < self.lo or (value == self.lo and not self.lo_inclusive)):
            return f"must be {self.describe()}, got {value}"
        if self.hi is not None and (value > self.hi or (value == self.hi and not self.hi_inclusive)):
            return f"must be {self.describe()}, got {value}"
        return None

    def describe(self) -> str:
        if self.lo == 1 and self.lo_inclusive and self.hi is None:
            return "at least 1"
        if self.lo == 0 and not self.lo_inclusive and self.hi is None:
            return "positive"
        if self.lo == 0 and self.lo_inclusive and self.hi is None:
            return "zero or more"
        left = "[" if self.lo_inclusive else "("
        right = "]" if self.hi_inclusive else ")"
        return f"in {left}{self.lo}, {self.hi}{right}"


AT_LEAST_ONE = Bounds(lo=1)
POSITIVE = Bounds(lo=0, lo_inclusive=False)
NON_NEGATIVE = Bounds(lo=0)
FRACTION = Bounds(lo=0, hi=1, hi_inclusive=False)

BOUNDS_BY_NAME: dict[str, Bounds] = {
    **dict.fromkeys(
        [
            "units", "filters", "out_channels", "kernel", "kernel_size", "pool", "pool_size",
            "size", "stride", "epochs", "batch_size", "checkpoint_every", "eval_every",
            "n", "n_samples", "n_points", "points_per_class", "n_classes", "classes",
            "max_examples", "step_size", "every", "num_classes", "image_size", "height", "width",
        ],
        AT_LEAST_ONE,
    ),
    **dict.fromkeys(
        ["padding", "patience", "min_delta", "warmup_epochs", "strength", "weight_decay",
         "noise", "min_lr", "alpha"],
        NON_NEGATIVE,
    ),
    **dict.fromkeys(["lr", "eps", "clip_norm", "gamma", "temperature"], POSITIVE),
    **dict.fromkeys(
        ["val_fraction", "test_fraction", "p", "rate", "momentum", "beta1", "beta2", "decay"],
        FRACTION,
    ),
}


def bounds_of(name: str, metadata: tuple = ()) -> list[Bounds]:
    """The bounds that apply to an option: the name table plus annotated_types markers."""
    found = [BOUNDS_BY_NAME[name]] if name in BOUNDS_BY_NAME else []
    for marker in metadata:
        found.extend(_from_marker(marker))
    return found


def _from_marker(marker: Any) -> list[Bounds]:
    out = []
    for attr, make in (
        ("gt", lambda v: Bounds(lo=v, lo_inclusive=False)),
        ("ge", lambda v: Bounds(lo=v)),
        ("lt", lambda v: Bounds(hi=v, hi_inclusive=False)),
        ("le", lambda v: Bounds(hi=v)),
    ):
        value = getattr(marker, attr, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(make(value))
    return out
