"""Elementwise activations: relu, leaky_relu, elu, sigmoid, tanh, and softmax over features."""

from __future__ import annotations

from typing import Optional

import numpy as np

from bpcli.nn.functional import sigmoid, softmax_numerator
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import Scratch, check_option, no_cache

_SHAPES = ((5,), (2, 3, 3))


class _Elementwise(Layer):
    """Shared plumbing: one cached array (`_saved`) and a scratch buffer for dx."""

    examples = tuple(({}, s) for s in _SHAPES)

    def __init__(self) -> None:
        super().__init__()
        self._saved: Optional[np.ndarray] = None
        self._dx = Scratch()

    def _keep(self, array: np.ndarray) -> None:
        self._saved = array if self.caching else None

    def _cached(self) -> np.ndarray:
        if self._saved is None:
            raise no_cache(self)
        return self._saved

    def _dx_like(self, dout: np.ndarray) -> np.ndarray:
        return self._dx.get(dout.shape, dout.dtype)


@LAYERS.register("relu")
class ReLU(_Elementwise):
    """out = max(0, x), any shape (N, ...); dx = dout · [x > 0]."""

    fresh_output = True  # the result is new, or x itself when the graph said x was fresh
    scratch_dx = True  # dx is its own scratch, or dout itself when the graph said dout was one

    def __init__(self) -> None:
        super().__init__()
        self._mask = Scratch()

    def forward(self, x: np.ndarray) -> np.ndarray:
        # a bool mask, reused across steps: multiplying by it costs the same as by a 0/1 float mask
        # (NumPy >= 2), and casting it to float cost ~6x the whole forward on (512, 1024)
        if self.caching:
            self._saved = np.greater(x, 0, out=self._mask.get(x.shape, np.bool_))
        else:
            self._saved = None
        if self.may_overwrite_input:
            return np.maximum(x, 0, out=x)
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = dout if self.may_overwrite_dout else self._dx_like(dout)
        return np.multiply(dout, self._cached(), out=out)

    def kink_state(self) -> Optional[np.ndarray]:
        return None if self._saved is None else self._saved.copy()


@LAYERS.register("leaky_relu")
class LeakyReLU(_Elementwise):
    """out = x if x > 0 else alpha·x, any shape (N, ...); dx = dout · (1 or alpha)."""

    examples = (({}, (5,)), ({"alpha": 0.2}, (2, 3, 3)))

    def __init__(self, *, alpha: float = 0.01):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: np.ndarray) -> np.ndarray:
        alpha = x.dtype.type(self.alpha)
        slope = (x > 0).astype(x.dtype)  # 1 where x > 0, alpha elsewhere (arithmetic, not np.where)
        slope *= 1 - alpha
        slope += alpha
        self._keep(slope)
        return x * slope

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.multiply(dout, self._cached(), out=self._dx_like(dout))

    def kink_state(self) -> Optional[np.ndarray]:
        return None if self._saved is None else self._saved == 1


@LAYERS.register("elu")
class ELU(_Elementwise):
    """out = x if x > 0 else alpha·(exp(x) - 1), any shape (N, ...); dx = dout · (1 or out + alpha)."""

    examples = (({}, (5,)), ({"alpha": 0.5}, (2, 3, 3)))

    def __init__(self, *, alpha: float = 1.0):
        super().__init__()
        check_option(alpha >= 0, "elu", "alpha", f"must be >= 0, got {alpha}")
        self.alpha = alpha

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.minimum(x, 0)
        np.expm1(out, out=out)
        out *= x.dtype.type(self.alpha)
        out += np.maximum(x, 0)  # exactly one of the two parts is nonzero
        self._keep(out)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached()
        alpha = out.dtype.type(self.alpha)
        local = np.minimum(out, 0)  # x <= 0: out + alpha; x > 0: 0 + alpha + (1 - alpha)
        local += alpha
        local += (out > 0).astype(out.dtype) * (1 - alpha)
        return np.multiply(dout, local, out=self._dx_like(dout))

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
        dx = np.subtract(1, out, out=self._dx_like(dout))
        dx *= out
        dx *= dout
        return dx


@LAYERS.register("tanh")
class Tanh(_Elementwise):
    """out = tanh(x), any shape (N, ...); dx = dout · (1 - out²)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.tanh(x)
        self._keep(out)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached()
        dx = np.multiply(out, out, out=self._dx_like(dout))
        np.subtract(1, dx, out=dx)
        dx *= dout
        return dx


@LAYERS.register("softmax")
class Softmax(_Elementwise):
    """out = exp(x) / Σ_features exp(x) over axis 1, x (N, D) or (N, C, ...); dx = out · (dout - Σ dout·out)."""

    examples = (({}, (5,)), ({}, (3, 2)))

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, total, _ = softmax_numerator(x)
        out /= total
        self._keep(out)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached()
        dx = np.multiply(dout, out, out=self._dx_like(dout))
        total = dx.sum(axis=1, keepdims=True)
        np.subtract(dout, total, out=dx)
        dx *= out
        return dx
