"""Elementwise activations: relu, leaky_relu, elu, sigmoid, tanh, and softmax over features.

Each caches what its local derivative needs (x or the output) and multiplies it into dout.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bpcli.nn.functional import sigmoid
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers.axes import Axes, example_axes
from bpcli.nn.layers._common import check_option, no_cache

_SHAPES = ((5,), (2, 3, 3))


class _Elementwise(Layer):
    """One cached array (x or out, as the subclass needs) and the error when it is missing."""

    examples = tuple(({}, s) for s in _SHAPES)

    def __init__(self) -> None:
        super().__init__()
        self._saved: Optional[np.ndarray] = None

    def _keep(self, array: np.ndarray) -> None:
        self._saved = array if self.training else None

    def _cached(self) -> np.ndarray:
        if self._saved is None:
            raise no_cache(self)
        return self._saved


@LAYERS.register("relu")
class ReLU(_Elementwise):
    """out = max(0, x), any shape (N, ...); dx = dout · [x > 0]."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._keep(x)
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x = self._cached()
        return dout * (x > 0)

    def kink_state(self) -> Optional[np.ndarray]:
        return None if self._saved is None else self._saved > 0


@LAYERS.register("leaky_relu")
class LeakyReLU(_Elementwise):
    """out = x if x > 0 else alpha·x, any shape (N, ...); dx = dout · (1 or alpha)."""

    examples = (({}, (5,)), ({"alpha": 0.2}, (2, 3, 3)))

    def __init__(self, *, alpha: float = 0.01):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._keep(x)
        return np.where(x > 0, x, self.alpha * x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x = self._cached()
        return np.where(x > 0, dout, self.alpha * dout)

    def kink_state(self) -> Optional[np.ndarray]:
        return None if self._saved is None else self._saved > 0


@LAYERS.register("elu")
class ELU(_Elementwise):
    """out = x if x > 0 else alpha·(exp(x) - 1), any shape (N, ...); dx = dout · (1 or out + alpha)."""

    examples = (({}, (5,)), ({"alpha": 0.5}, (2, 3, 3)))

    def __init__(self, *, alpha: float = 1.0):
        super().__init__()
        check_option(alpha >= 0, "elu", "alpha", f"must be >= 0, got {alpha}")
        self.alpha = alpha

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))  # expm1 of x <= 0 only: no overflow
        self._keep(out)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached()
        return np.where(out > 0, dout, dout * (out + self.alpha))

    def kink_state(self) -> Optional[np.ndarray]:
        return None if self._saved is None else self._saved > 0


@LAYERS.register("sigmoid")
class Sigmoid(_Elementwise):
    """out = 1 / (1 + exp(-x)), any shape (N, ...); dx = dout · out · (1 - out)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = sigmoid(x)
        self._keep(out)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached()
        return dout * out * (1 - out)


@LAYERS.register("tanh")
class Tanh(_Elementwise):
    """out = tanh(x), any shape (N, ...); dx = dout · (1 - out²)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.tanh(x)
        self._keep(out)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached()
        return dout * (1 - out * out)


@LAYERS.register("softmax")
class Softmax(_Elementwise):
    """out = exp(x) / Σ_axis exp(x), x (N, ...), axis 1 (the features) or any others, a list of them (not 0, the batch); dx = out · (dout - Σ_axis dout·out)."""

    examples = (({}, (5,)), ({}, (3, 2)), ({"axis": 2}, (3, 4)), ({"axis": -1}, (2, 2, 3)), ({"axis": [2, 3]}, (2, 2, 3)))

    def __init__(self, *, axis: Axes = 1):
        super().__init__()
        self.axis = axis

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        self.axis = example_axes("softmax", self.axis, tuple(input_shape))
        return input_shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))  # shifted by the max: no overflow
        out = e / e.sum(axis=self.axis, keepdims=True)
        self._keep(out)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached()
        return out * (dout - (dout * out).sum(axis=self.axis, keepdims=True))
