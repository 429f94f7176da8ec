"""Weight regularizers, registered by name: `(weights, strength) -> (loss, grads)`.

`weights` maps "node.W" to the weight arrays only (biases and batchnorm gamma/beta are not
regularized, as in CS231n); the returned grads have the same keys (none: no keys, i.e. zero).
`examples`: (options, weight shapes) cases the registry-wide tests check the grads on against
central differences of the loss.
"""

from __future__ import annotations

import numpy as np

from bpcli.registry import Registry

REGULARIZERS = Registry("regularizer")


@REGULARIZERS.register("l2", examples=(({"strength": 0.1}, ((3, 2), (4,))), ({}, ((2, 3, 3, 3),))))
def l2(weights: dict, strength: float = 1e-3) -> tuple[float, dict]:
    """R = 0.5 · λ · Σ W²; dR/dW = λ · W."""
    loss = 0.5 * strength * sum(float(np.vdot(w, w)) for w in weights.values())
    return loss, {k: w * w.dtype.type(strength) for k, w in weights.items()}


@REGULARIZERS.register("l1", examples=(({"strength": 0.3}, ((3, 2), (4,))), ({}, ((5,),))))
def l1(weights: dict, strength: float = 1e-3) -> tuple[float, dict]:
    """R = λ · Σ |W|; dR/dW = λ · sign(W) (0 at W = 0)."""
    loss = strength * sum(float(np.abs(w).sum()) for w in weights.values())
    return loss, {k: np.sign(w) * w.dtype.type(strength) for k, w in weights.items()}


@REGULARIZERS.register("none", examples=(({"strength": 0.1}, ((3, 2),)),))
def none(weights: dict, strength: float = 0.0) -> tuple[float, dict]:
    """R = 0."""
    return 0.0, {}
