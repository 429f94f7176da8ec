"""Weight regularizers, registered by name: `(weights, strength) -> (loss, grads)`.

`weights` maps "node.W" to the weight arrays only (biases and batchnorm gamma/beta are not
regularized, as in CS231n); the returned grads have the same keys.
"""

from __future__ import annotations

import numpy as np

from bpcli.registry import Registry

REGULARIZERS = Registry("regularizer")


@REGULARIZERS.register("l2")
def l2(weights: dict, strength: float = 1e-3) -> tuple[float, dict]:
    """R = 0.5 · λ · Σ W²; dR/dW = λ · W."""
    loss = 0.5 * strength * sum(float(np.vdot(w, w)) for w in weights.values())
    return loss, {k: w * w.dtype.type(strength) for k, w in weights.items()}


@REGULARIZERS.register("l1")
def l1(weights: dict, strength: float = 1e-3) -> tuple[float, dict]:
    """R = λ · Σ |W|; dR/dW = λ · sign(W) (0 at W = 0)."""
    loss = strength * sum(float(np.abs(w).sum()) for w in weights.values())
    return loss, {k: np.sign(w) * w.dtype.type(strength) for k, w in weights.items()}


@REGULARIZERS.register("none")
def none(weights: dict, strength: float = 0.0) -> tuple[float, dict]:
    """R = 0."""
    return 0.0, {}
