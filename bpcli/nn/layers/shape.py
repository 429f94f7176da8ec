"""Layers that only change the shape of their input."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import no_cache


@LAYERS.register("flatten")
class Flatten(Layer):
    """out = x.reshape(N, D): x (N, d1, ..., dk), out (N, d1·...·dk); dx = dout.reshape(x.shape)."""

    examples = (({}, (2, 3, 3)), ({}, (4,)))

    def __init__(self) -> None:
        super().__init__()
        self._x_shape: Optional[tuple] = None

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        return (math.prod(input_shape),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x_shape = x.shape if self.training else None
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._x_shape is None:
            raise no_cache(self)
        return dout.reshape(self._x_shape)
