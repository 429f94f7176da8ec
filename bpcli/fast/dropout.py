"""Dropout's fast twin: the mask made in place, dx in a reused buffer."""

from __future__ import annotations

from typing import Any

import numpy as np

from bpcli.fast.buffers import Scratch
from bpcli.fast.layer import FastLayer, twin_of
from bpcli.fast.layout import memory_order
from bpcli.nn.layers._common import no_cache
from bpcli.nn.layers.dropout import Dropout


@twin_of("dropout")
class FastDropout(FastLayer, Dropout):
    """Inverted dropout, out = x · m / (1 - p), with dx = dout · m / (1 - p) in a reused buffer; any shape (N, ...)."""

    scratch_dx = True

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._dx = Scratch()

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.training and self.p == 1.0:  # every entry dropped (the reference's rule)
            return Dropout.forward(self, x)
        if not self.training or self.p == 0.0:
            self._mask = np.ones(x.shape, dtype=x.dtype) if self.training else None
            return x
        mask = self.rng.random(x.shape, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
        mask = np.greater_equal(mask, self.p).astype(x.dtype)
        mask *= mask.dtype.type(1.0 / (1.0 - self.p))
        self._mask = mask
        return x * mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._mask is None:
            raise no_cache(self)
        return np.multiply(dout, self._mask, out=self._dx.get(dout.shape, dout.dtype, memory_order(dout)))
