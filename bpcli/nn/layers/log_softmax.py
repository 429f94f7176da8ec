"""log_softmax: log-probabilities over one axis, computed without forming the probabilities' logs."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from bpcli.errors import ShapeError
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import no_cache


Axes = Union[int, Tuple[int, ...]]


def example_axes(layer: str, axis: Axes, input_shape: tuple) -> tuple[int, ...]:
    """`axis` (one or several) of an (N, *input_shape) array as non-negative indices; never 0, the batch axis."""
    ndim = len(input_shape) + 1
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    shown = f"(N, {', '.join(map(str, input_shape))})"
    if not axes:
        raise ShapeError(f"{layer}: axis is an empty list; give at least one axis of {shown}")
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{layer}: axis {a} does not exist in inputs {shown}")
        if a % ndim == 0:
            raise ShapeError(f"{layer}: axis {a} is the batch axis of {shown}; examples are independent, choose 1 or more")
    resolved = tuple(sorted({a % ndim for a in axes}))
    if len(resolved) != len(axes):
        raise ShapeError(f"{layer}: axis {list(axes)} names one axis twice")
    return resolved


@LAYERS.register("log_softmax")
class LogSoftmax(Layer):
    """out = x - log Σ_axis exp(x), x (N, ...), axis one axis or a list of them (not 0, the batch); dx = dout - softmax(x) · Σ_axis dout."""

    examples = (({}, (5,)), ({"axis": 2}, (3, 4)), ({"axis": -1}, (2, 3, 3)), ({"axis": [1, 3]}, (2, 3, 2)))

    def __init__(self, *, axis: Axes = 1):
        super().__init__()
        self.axis = axis
        self._probs: Optional[np.ndarray] = None

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        self.axis = example_axes("log_softmax", self.axis, tuple(input_shape))
        return input_shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        shifted = x - x.max(axis=self.axis, keepdims=True)
        # log Σ exp(shifted) = log(k + rest): k maxima (each exp(0) = 1) and the rest, taken as
        # log k + log1p(rest / k) so a tiny rest is not lost in 1 + rest
        at_max = shifted == 0
        k = at_max.sum(axis=self.axis, keepdims=True, dtype=x.dtype)
        rest = np.where(at_max, 0, np.exp(shifted)).sum(axis=self.axis, keepdims=True)
        out = shifted - (np.log(k) + np.log1p(rest / k))
        self._probs = np.exp(out) if self.training else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._probs is None:
            raise no_cache(self)
        return dout - self._probs * dout.sum(axis=self.axis, keepdims=True)
