"""The Layer base class and the LAYERS registry: the one way to define a layer.

A layer's options are the keyword arguments of its __init__ (typed, with defaults); the spec
validator, `bpcli show`, `bpcli schema` and the gradient tests read them from there.
Speed work (in-place flags, fused optimizer steps, BLAS) lives in `bpcli/fast/`, never here.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import numpy as np

from bpcli.registry import Registry

LAYERS = Registry("layer")

Shape = tuple  # per-example shape, without the batch dimension


class Layer:
    """Base class of every layer, built-in or yours: forward caches what backward needs.

    The contract:
    - `build(input_shape, rng, dtype)` creates `params` (and `grads`) for one example's shape
      (no batch axis; a list of shapes when `n_inputs != 1`) and returns the output shape.
    - `forward(x)` (`forward(*xs)` for several inputs) takes a leading batch axis and caches what
      backward needs while `self.training` is True (nothing in eval mode).
    - `backward(dout)` returns dx (a tuple of them for several inputs), *assigns* `grads[k]` for
      every `k` in `params` (never accumulates, so running it twice gives the same gradients) and
      leaves `dout` unchanged.
    - `kink_state()` says which side of its kinks each entry was on in the last forward (the relu
      mask, the max-pool argmax ...), or None for a smooth layer.
    - `examples`: (options, per-example input shape) pairs; registering the class runs it against
      central differences on each of them.
    """

    registered_name: ClassVar[str] = ""
    n_inputs: ClassVar[Optional[int]] = 1  # None = any number >= 2 (add, concat)
    weight_params: ClassVar[tuple] = ()  # params that regularization applies to, e.g. ("W",)
    shorthand: ClassVar[Optional[str]] = None  # the option `- dense: 100` sets, e.g. "units"
    stochastic: ClassVar[bool] = False  # draws from self.rng in training mode (dropout)
    examples: ClassVar[tuple] = (({}, (5,)),)  # multi-input layers give a list of shapes

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}  # state saved with the model, no gradient (batchnorm running mean)
        self.training: bool = True
        self.needs_input_grad: bool = True  # set False by the graph when nobody reads dx: it may be None
        self.rng: np.random.Generator = np.random.default_rng(0)  # reseeded by the graph
        self.name: str = ""

    def build(self, input_shape: Any, rng: np.random.Generator, dtype: Any) -> Shape:
        """Create parameters for `input_shape`; return the output shape. Default: same shape."""
        return input_shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def kink_state(self) -> Optional[np.ndarray]:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
