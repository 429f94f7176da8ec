"""An example user layer for user-layer.yaml: same Layer base class as the built-in ones."""

from __future__ import annotations

from typing import Optional

import numpy as np

from bpcli.nn.layer import Layer


class Swish(Layer):
    """out = x · σ(β·x), any shape (N, ...); dx = dout · (σ + β·x·σ·(1 − σ))."""

    def __init__(self, *, beta: float = 1.0):
        super().__init__()
        self.beta = beta
        self._x: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x if self.training else None
        return x / (1.0 + np.exp(-self.beta * x))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x = self._x
        s = 1.0 / (1.0 + np.exp(-self.beta * x))
        return dout * (s + self.beta * x * s * (1.0 - s))
