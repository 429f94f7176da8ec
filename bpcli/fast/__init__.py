"""Speed: fast twins of the reference layers, the fused optimizer step, BLAS through ctypes (bpcli/host/blas.py).

Every fast layer subclasses a reference layer of `bpcli/nn/layers/` and is registered as its
twin (`TWINS`); tests/test_fast_twins.py holds each one equal to its reference. `bpcli train`
builds its model from the twins (`train.kernels: fast`, the default) and wires their in-place
flags with `wire`; `train.kernels: reference` trains on the reference layers.
"""

# isort: off
import bpcli.nn.layers  # noqa: F401  (the reference layers the twins subclass)
from bpcli.fast.layer import TWINS, FastLayer, fast_class, twin_of
from bpcli.fast import dense, activations, dropout, conv, pooling  # noqa: F401  (register the twins)
from bpcli.fast.wiring import wire
# isort: on

__all__ = ["TWINS", "FastLayer", "fast_class", "twin_of", "wire"]
