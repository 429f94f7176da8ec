"""Layers with several inputs: add and concat."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bpcli.errors import ShapeError
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import no_cache


def _describe(shapes: list) -> str:
    return ", ".join(str(tuple(s)) for s in shapes)


@LAYERS.register("add")
class Add(Layer):
    """out = x1 + x2 + ... + xn, every xi (N, ...) of one shape; dxi = dout."""

    n_inputs = None
    examples = (({}, [(4,), (4,)]), ({}, [(2, 3, 3), (2, 3, 3), (2, 3, 3)]))

    def __init__(self) -> None:
        super().__init__()
        self._n: Optional[int] = None

    def build(self, input_shape: list, rng: np.random.Generator, dtype: Any) -> tuple:
        shapes = [tuple(s) for s in input_shape]
        if any(s != shapes[0] for s in shapes):
            raise ShapeError(f"add needs inputs of one shape, got {_describe(shapes)}")
        return shapes[0]

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        out = xs[0] + xs[1]
        for x in xs[2:]:
            out += x
        self._n = len(xs) if self.training else None
        return out

    def backward(self, dout: np.ndarray) -> tuple:
        if self._n is None:
            raise no_cache(self)
        return (dout,) * self._n


@LAYERS.register("concat")
class Concat(Layer):
    """out = [x1, x2, ...] joined along the feature axis 1: xi (N, Di, ...) with equal other axes, out (N, ΣDi, ...)."""

    n_inputs = None
    examples = (({}, [(3,), (2,)]), ({}, [(1, 3, 3), (2, 3, 3), (1, 3, 3)]))

    def __init__(self) -> None:
        super().__init__()
        self._splits: Optional[list] = None  # offsets along axis 1 where dout is cut

    def build(self, input_shape: list, rng: np.random.Generator, dtype: Any) -> tuple:
        shapes = [tuple(s) for s in input_shape]
        rest = shapes[0][1:]
        if any(len(s) == 0 or s[1:] != rest for s in shapes):
            raise ShapeError(
                f"concat needs inputs that differ only in their first (feature) axis, got {_describe(shapes)}"
            )
        return (sum(s[0] for s in shapes),) + rest

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        if self.training:
            self._splits = list(np.cumsum([x.shape[1] for x in xs[:-1]]))
        else:
            self._splits = None
        return np.concatenate(xs, axis=1)

    def backward(self, dout: np.ndarray) -> tuple:
        if self._splits is None:
            raise no_cache(self)
        return tuple(np.split(dout, self._splits, axis=1))
