"""Inverted dropout."""

from __future__ import annotations

from typing import Optional

import numpy as np

from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import check_option, no_cache


@LAYERS.register("dropout")
class Dropout(Layer):
    """Training: out = x · m / (1 - p), m ~ Bernoulli(1 - p) per entry (p = drop probability; p = 1 drops all: out = 0, dx = 0); eval: out = x; any shape (N, ...)."""

    shorthand = "p"
    stochastic = True
    examples = (({"p": 0.5}, (6,)), ({"p": 0.2}, (2, 3, 3)), ({"p": 0.0}, (4,)))  # p = 1: all-zero gradients, nothing to check

    def __init__(self, *, p: float = 0.5):
        super().__init__()
        check_option(0.0 <= p <= 1.0, "dropout", "p", f"(the drop probability) must be in [0, 1], got {p}")
        self.p = p
        self._mask: Optional[np.ndarray] = None  # m / (1 - p), x's shape and dtype

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training:
            self._mask = None
            return x
        if self.p == 0.0:
            self._mask = np.ones_like(x)
            return x
        if self.p == 1.0:  # every entry dropped: no scale 1 / (1 - p) exists, and none is needed (as torch)
            self._mask = np.zeros_like(x)
            return np.zeros_like(x)
        kept = self.rng.random(x.shape, dtype=x.dtype) >= self.p  # each entry kept with probability 1 - p
        self._mask = kept.astype(x.dtype) / x.dtype.type(1.0 - self.p)  # E[mask] = 1: eval needs no rescaling
        return x * self._mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._mask is None:
            raise no_cache(self)
        return dout * self._mask
