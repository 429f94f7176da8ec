"""The Layer base class and the LAYERS registry: the one way to define a layer.

A layer's options are the keyword arguments of its __init__ (typed, with defaults); the spec
validator, `bpcli show`, `bpcli schema` and the gradient-check tests read them from there.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import numpy as np

from bpcli.registry import Registry

LAYERS = Registry("layer")

Shape = tuple  # per-example shape, without the batch dimension


class Layer:
    """Base class: forward(x) caches what backward needs; backward(dout) returns dx.

    Contract for every subclass (built-in or user-written):
    - `build(input_shape, rng, dtype)` creates `params` for a per-example input shape (no batch
      dimension; for multi-input layers a list of shapes) and returns the output shape.
    - `forward(x)` (or `forward(*xs)` when `n_inputs != 1`) with a leading batch dimension;
      caches what backward needs only when `self.training` is True or `self.keep_cache` is set.
    - `backward(dout)` returns dx (a tuple of dx for multi-input layers), never modifies `dout`
      (unless the graph set `may_overwrite_dout`, below),
      and *assigns* (never accumulates) `grads[k]` for every `k` in `params`, so running it twice
      gives the same gradients.
    - `kink_state()` returns a discrete array describing which side of its kinks each input was
      on in the last forward (relu mask, max-pool argmax ...), or None for smooth layers.
    - `buffers` holds non-trainable state that is part of the model (batchnorm running mean and
      variance): saved in checkpoints and cast by `LayerGraph.to`, never given gradients.
    - `needs_input_grad` is set False by the graph when nobody needs dx (the first layer of a
      model); a layer may then skip computing it and return None. Ignoring the flag is fine.
    - `scratch_dx` (class): backward returns dx in a buffer the layer never reads again (valid
      until its next backward). The graph then sets `may_overwrite_dout` on the layer below, the
      only other reader, which may write into its dout (relu does). Both default to False.
    - `fusable_grads` names the params whose gradient the layer writes through
      `layers._common.emit_grad_product`; while a training step has fused the optimizer's update
      into backward, `grad_sinks` maps such a name to its GradSink and the gradient array is not
      written. A layer must be done reading its params before it emits (the sink may be the
      parameter itself). Layers that do not declare any are simply updated the usual way.
    - `may_overwrite_input` is set True by the graph when the layer is the only reader of a
      tensor whose producer's class declares `fresh_output = True` (its forward returns a new
      array it keeps no reference to, like dense); the layer may then write its output into x
      (relu does). Both default to False; ignoring the flag is fine.
    """

    registered_name: ClassVar[str] = ""
    n_inputs: ClassVar[Optional[int]] = 1  # None = any number >= 2 (add, concat)
    weight_params: ClassVar[tuple] = ()  # params that regularization applies to, e.g. ("W",)
    shorthand: ClassVar[Optional[str]] = None  # the option `- dense: 100` sets, e.g. "units"
    stochastic: ClassVar[bool] = False  # draws from self.rng in training mode (dropout)
    # (options, per-example input shape) pairs that the registry-wide gradient tests use;
    # multi-input layers give a list of shapes.
    examples: ClassVar[tuple] = (({}, (5,)),)
    needs_input_grad: bool = True
    fresh_output: ClassVar[bool] = False  # forward returns a new array it keeps no reference to
    may_overwrite_input: bool = False  # set by the graph (see above)
    scratch_dx: ClassVar[bool] = False  # backward's dx is a buffer the layer never reads again
    may_overwrite_dout: bool = False  # set by the graph (see above)
    fusable_grads: ClassVar[tuple] = ()  # params written through emit_grad_product (see above)
    grad_sinks: Optional[dict] = None  # set by TrainStep for the length of one backward

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.training: bool = True
        self.keep_cache: bool = False
        self.rng: np.random.Generator = np.random.default_rng(0)
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

    @property
    def caching(self) -> bool:
        """Whether forward should keep what backward needs."""
        return self.training or self.keep_cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
