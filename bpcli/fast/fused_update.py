"""Optimizer updates that can begin inside backward, as target = alpha · g + beta · target.

sgd:       w = -lr·dw + w      (target w, nothing left to do)
momentum:  v = -lr·dw + mu·v   (target v, then w += v)

A dense layer's dW is one GEMM, x.T @ dout, and BLAS computes alpha · x.T @ dout + beta · target
in the same call, so the gradient array is never written nor read back. Only the exact classes
listed here fuse: a subclass (nesterov needs v before and after) takes the plain update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from bpcli.host.blas import axpy
from bpcli.nn.optim import Momentum, Optimizer, SGD


@dataclass(frozen=True)
class FusedUpdate:
    """target(opt, name) -> (target array, alpha, beta); finish(opt, name) completes the update."""

    target: Callable[[Optimizer, str], tuple[np.ndarray, float, float]]
    finish: Callable[[Optimizer, str], None]


def _nothing(opt: Optimizer, name: str) -> None:
    pass


FUSED_UPDATES: dict[type, FusedUpdate] = {
    SGD: FusedUpdate(lambda opt, name: (opt.params[name], -opt.lr, 1.0), _nothing),
    Momentum: FusedUpdate(
        lambda opt, name: (opt.state["velocity"][name], -opt.lr, opt.momentum),
        lambda opt, name: axpy(1.0, opt.state["velocity"][name], opt.params[name]),  # w += v on BLAS's threads
    ),
}


def fused_update(optimizer: Optimizer) -> Optional[FusedUpdate]:
    """How this optimizer's update fuses into backward, or None when it cannot."""
    return FUSED_UPDATES.get(type(optimizer))
