"""The fully connected (affine) layer."""

from __future__ import annotations

import math
from typing import Any, Optional, Union

import numpy as np

from bpcli.nn.init import initializer
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import check_option, no_cache


@LAYERS.register("dense")
class Dense(Layer):
    """out = x.reshape(N, D) @ W + b: x (N, d1, ..., dk) with D = d1·...·dk, W (D, units), b (units,), out (N, units)."""

    shorthand = "units"
    weight_params = ("W",)
    examples = (
        ({"units": 3}, (4,)),
        ({"units": 2, "init": "xavier"}, (2, 3)),
        ({"units": 4, "bias": False, "init": "small"}, (5,)),
    )

    def __init__(self, *, units: int = 10, init: Union[str, float] = "he", bias: bool = True):
        super().__init__()
        check_option(units >= 1, "dense", "units", f"must be >= 1, got {units}")
        self.units = units
        self.init = initializer(init)
        self.bias = bias
        self._x: Optional[np.ndarray] = None  # the input as rows (N, D), cached for dW
        self._x_shape: tuple = ()  # the input's own shape, for dx

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        fan_in = math.prod(input_shape)
        self.params["W"] = self.init((fan_in, self.units), fan_in, self.units, rng, dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        if self.bias:
            self.params["b"] = np.zeros(self.units, dtype=dtype)
            self.grads["b"] = np.zeros_like(self.params["b"])
        return (self.units,)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x2 = x.reshape(x.shape[0], -1)  # (N, D)
        out = x2 @ self.params["W"]  # (N, units)
        if self.bias:
            out += self.params["b"]  # broadcast over the N rows
        self._x, self._x_shape = (x2, x.shape) if self.training else (None, ())
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (N, units) -> dx (N, d1, ..., dk); dW = x.T @ dout (D, units), db = Σ_n dout (units,)."""
        x2 = self._x
        if x2 is None:
            raise no_cache(self)
        self.grads["W"] = x2.T @ dout
        if self.bias:
            self.grads["b"] = dout.sum(axis=0)
        dx = dout @ self.params["W"].T  # (N, D)
        return dx.reshape(self._x_shape)
