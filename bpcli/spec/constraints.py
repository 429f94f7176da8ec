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
        if isinstance(value, float) and math.isinf(value):
            return f"must be a finite number, got {value} (a number beyond about 1.8e308 reads as inf)"
        if self._is_closed_range():  # a count: say which end was crossed
            if value < self.lo:
                return f"must be at least {self.lo}, got {value}"
            if value > self.hi:
                return f"must be at most {self.hi:,}, got {value}"
            return None
        if self.lo is not None and (value < self.lo or (value == self.lo and not self.lo_inclusive)):
            return f"must be {self.describe()}, got {value}"
        if self.hi is not None and (value > self.hi or (value == self.hi and not self.hi_inclusive)):
            return f"must be {self.describe()}, got {value}"
        return None

    def _is_closed_range(self) -> bool:
        return self.lo is not None and self.hi is not None and self.lo_inclusive and self.hi_inclusive

    def describe(self) -> str:
        if self._is_closed_range():
            return f"from {self.lo} to {self.hi:,}"
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

# upper bounds on counts: far above any run that fits in memory or time, far below a typo's 10**23
MAX_EPOCHS = 10**7  # epochs, and counts measured in epochs or steps
MAX_WIDTH = 10**6  # units, filters, classes
MAX_EXAMPLES = 10**8  # batch sizes and dataset sizes
MAX_SPATIAL = 10**4  # kernel, pool, stride, padding, image sides


def count_up_to(hi: int, lo: int = 1) -> Bounds:
    return Bounds(lo=lo, hi=hi)


BOUNDS_BY_NAME: dict[str, Bounds] = {
    **dict.fromkeys(["epochs", "checkpoint_every", "eval_every", "step_size", "every"], count_up_to(MAX_EPOCHS)),
    **dict.fromkeys(["patience", "warmup_epochs"], count_up_to(MAX_EPOCHS, lo=0)),
    **dict.fromkeys(["units", "filters", "out_channels", "n_classes", "classes", "num_classes"], count_up_to(MAX_WIDTH)),
    **dict.fromkeys(
        ["batch_size", "n", "n_samples", "n_points", "points_per_class", "images_per_class", "max_examples"],
        count_up_to(MAX_EXAMPLES),
    ),
    **dict.fromkeys(
        ["kernel", "kernel_size", "pool", "pool_size", "size", "stride", "image_size", "height", "width"],
        count_up_to(MAX_SPATIAL),
    ),
    "padding": count_up_to(MAX_SPATIAL, lo=0),
    **dict.fromkeys(["min_delta", "strength", "weight_decay", "noise", "min_lr", "alpha"], NON_NEGATIVE),
    **dict.fromkeys(["lr", "eps", "clip_norm", "gamma", "temperature"], POSITIVE),
    **dict.fromkeys(
        ["val_fraction", "test_fraction", "rate", "momentum", "beta1", "beta2", "decay"],
        FRACTION,
    ),
    "p": Bounds(lo=0, hi=1),  # a probability: dropout's p = 1 drops everything
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
