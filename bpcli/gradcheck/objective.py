"""What every gradient check needs from its target: live parameters, a loss, its gradients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

GradDict = dict  # name -> np.ndarray (float64)


@dataclass
class Objective:
    """A scalar function L(θ) of named float64 arrays, with the code under test's ∇L.

    `params` are the live arrays: numeric differences perturb them in place and restore them.
    `value()` evaluates L at the current arrays with every source of randomness reset first,
    so equal parameters give equal losses. `gradients()` returns fresh copies of the analytic
    gradients at the current arrays. `kink_states()` (optional) returns discrete arrays naming
    the side of every kink (relu mask, argmax ...) after the last evaluation. `rescaled(s)`
    (optional) returns the analytic gradients when the upstream gradient is multiplied by s:
    backward is linear in dout, so they must scale by s.

    Optional, for hints: `output()` the layer's output at the current arrays, `upstream(dout)`
    the analytic gradients for any upstream gradient (one-hot douts give Jacobian rows),
    `rebatch(n)` the same objective on the first n examples. `dtype` is the dtype the code under
    test runs in (the differences are taken in it); `info` says how the check was set up
    (arguments copied per call ...), never a problem. `reference()`: for a float32 check, the
    same code's analytic gradients in float64 at the same point (the precision float32 reaches).
    """

    label: str
    params: dict
    value: Callable[[], float]
    gradients: Callable[[], GradDict]
    kink_states: Optional[Callable[[], dict]] = None
    rescaled: Optional[Callable[[float], GradDict]] = None
    batch_size: Optional[int] = None
    prefix: str = ""  # prepended to parameter names in checks ("fc1.", "reg:")
    notes: list = field(default_factory=list)  # problems found while preparing (dout modified ...)
    # parameter name -> a problem with its gradient found while computing it (accumulating)
    problems: dict = field(default_factory=dict)
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float64))
    info: list = field(default_factory=list)
    output: Optional[Callable[[], np.ndarray]] = None
    upstream: Optional[Callable[[np.ndarray], GradDict]] = None
    rebatch: Optional[Callable[[int], "Objective"]] = None
    # float32 checks: the analytic gradients of the same code in float64 at the same point
    reference: Optional[Callable[[], GradDict]] = None

    def n_entries(self) -> int:
        return int(sum(np.size(a) for a in self.params.values()))
