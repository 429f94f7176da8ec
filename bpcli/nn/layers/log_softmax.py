"""log_softmax: log-probabilities over one axis, computed without forming the probabilities' logs."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import no_cache
from bpcli.nn.layers.axes import Axes, example_axes


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
