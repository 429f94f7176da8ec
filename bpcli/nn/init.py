"""Weight initializers, registered by name: `(shape, fan_in, fan_out, rng, dtype) -> array`.

Numbers are always drawn in float64 and then cast, so one seed gives the same starting weights
whether the model runs in float32 (training) or float64 (gradient checks). `examples`:
(shape, fan_in, fan_out) cases the registry-wide tests draw and check against the docstring's
distribution (a dense layer's and a convolution's weights).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bpcli.registry import Registry

INITIALIZERS = Registry("initializer")


def _scaled_normal(shape: tuple, scale: float, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """scale · N(0, 1) of `shape`, drawn in float64, returned C-contiguous in `dtype`."""
    _check_budget(shape, np.float64)
    w = rng.standard_normal(shape)
    w *= scale
    return w.astype(dtype, copy=False)


EXAMPLES = (((400, 300), 400, 300), ((64, 3, 5, 5), 75, 1600))


@INITIALIZERS.register("he", examples=EXAMPLES)
def he(shape: tuple, fan_in: int, fan_out: int, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """W = sqrt(2 / fan_in) · randn (He et al. 2015; keeps ReLU activations' variance)."""
    return _scaled_normal(shape, math.sqrt(2.0 / fan_in), rng, dtype)


@INITIALIZERS.register("xavier", examples=EXAMPLES)
def xavier(shape: tuple, fan_in: int, fan_out: int, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """W = sqrt(1 / fan_in) · randn (the CS231n notes' "calibrated" Xavier, not Glorot uniform)."""
    return _scaled_normal(shape, math.sqrt(1.0 / fan_in), rng, dtype)


@INITIALIZERS.register("small", examples=EXAMPLES)
def small(shape: tuple, fan_in: int, fan_out: int, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """W = 0.01 · randn (the lecture's small random numbers)."""
    return _scaled_normal(shape, 0.01, rng, dtype)


@INITIALIZERS.register("zeros", examples=(((3, 2), 3, 2), ((10,), 10, 10)))
def zeros(shape: tuple, fan_in: int, fan_out: int, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """W = 0 (biases; for weights it leaves every unit identical)."""
    _check_budget(shape, dtype)
    return np.zeros(shape, dtype=dtype)


def _check_budget(shape: tuple, dtype: Any) -> None:
    """MemoryError, before allocating, for weights larger than the memory budget (the graph
    names the layer)."""
    from bpcli.memory_budget import over_budget, too_large

    n_bytes = math.prod(int(d) for d in shape) * np.dtype(dtype).itemsize
    if too_large(n_bytes):
        raise MemoryError(over_budget(n_bytes, f"weights of shape {tuple(shape)}"))


def initializer(init: "str | float"):
    """A layer's `init:` option -> an initializer: a registered name, or a number s > 0 meaning
    W = s · randn (CS231n's `weight_scale`)."""
    if isinstance(init, str):
        return INITIALIZERS.get(init)
    if isinstance(init, bool) or not isinstance(init, (int, float)) or not init > 0 or not math.isfinite(init):
        from bpcli.errors import SpecError, SpecProblem

        raise SpecError(SpecProblem(f"init must be an initializer name or a weight scale > 0, got {init!r}", path="init"))
    scale = float(init)

    def normal(shape: tuple, fan_in: int, fan_out: int, rng: np.random.Generator, dtype: Any) -> np.ndarray:
        return _scaled_normal(shape, scale, rng, dtype)

    return normal
