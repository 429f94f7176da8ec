"""FastLayer: the tier of layers that trade readability for speed, and the TWINS registry.

A fast layer is the twin of a reference layer in `bpcli/nn/layers/`: it subclasses it (same
options, parameters, build and examples) and overrides forward/backward with the same math
done faster. Registering it with `@twin_of("dense")` enrolls it in the registry-wide test
that holds it equal to its reference (tests/test_fast_twins.py), and `bpcli train` uses it.

Only this tier knows the speed flags:
- `fresh_output` (class): forward returns a new array it keeps no reference to (dense).
- `may_overwrite_input` (set by `wire`): the layer is the only reader of such an array and may
  write its output into x (relu after dense).
- `scratch_dx` (class): backward returns dx in a buffer it never reads again, valid until its
  next backward (or that of another layer sharing its `dx_buffers`, see below).
- `may_overwrite_dout` (set by `wire`): the gradient of this layer's output is such a buffer
  with no other reader, so backward may write into dout (relu masks dense's dx in place).
- `temporaries` and `dx_buffers` (`workspace.py`): where a layer takes the arrays it needs only
  during one call, and its dx. A layer's own unless `wire` gives it the graph's shared ones; so
  layers of one graph hold those buffers once, not once each.
- `fusable_grads` (class) and `grad_sinks` (set by TrainStep for one backward): params whose
  gradient the layer writes through `buffers.emit_grad_product`, so the optimizer's update can
  be fused into the product (see `train_step.py`). A layer must be done reading its params
  before it emits (the sink may be the parameter itself).
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional

from bpcli.fast.workspace import DxBuffers, Temporaries
from bpcli.nn.layer import LAYERS, Layer
from bpcli.registry import Registry

TWINS = Registry("fast layer")  # reference layer name -> its fast twin class


class FastLayer(Layer):
    """Base of the fast twins: the reference layer's contract plus the speed flags above."""

    fresh_output: ClassVar[bool] = False
    scratch_dx: ClassVar[bool] = False
    fusable_grads: ClassVar[tuple] = ()

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # the reference layer's own __init__ (next in the MRO)
        self.may_overwrite_input: bool = False
        self.may_overwrite_dout: bool = False
        self.grad_sinks: Optional[dict] = None
        self.temporaries = Temporaries()
        self.dx_buffers = DxBuffers()


def twin_of(name: str) -> Callable[[type], type]:
    """Class decorator: register a FastLayer subclass of LAYERS[name] as that layer's twin."""
    reference = LAYERS.get(name)

    def register(cls: type) -> type:
        if not (issubclass(cls, FastLayer) and issubclass(cls, reference)):
            raise TypeError(f"{cls.__name__} must subclass FastLayer and {reference.__name__} to be the twin of '{name}'")
        return TWINS.register(name)(cls)

    return register


def fast_class(layer_class: type) -> type:
    """The fast twin of a registered reference layer class; any other class (a user's) unchanged."""
    name = getattr(layer_class, "registered_name", "")
    if name in TWINS and LAYERS.get(name) is layer_class:
        return TWINS.get(name)
    return layer_class
