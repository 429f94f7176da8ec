"""Fast twins of the elementwise activations: dx in a reused buffer, masks and slopes made in
place, relu in place where the graph allows it (see FastLayer's flags)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bpcli.fast.buffers import Scratch
from bpcli.fast.layer import FastLayer, twin_of
from bpcli.fast.layout import memory_order
from bpcli.nn.functional import softmax_numerator
from bpcli.nn.layers.activations import ELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh


class _FastElementwise(FastLayer):
    """Shared plumbing: dx in `dx_buffers` (the reference class keeps `_saved`)."""

    scratch_dx = True  # dx is a reused buffer that backward only writes

    def _dx_like(self, dout: np.ndarray) -> np.ndarray:
        """dx's buffer, laid out in memory like dout (a channel-last conv gradient stays channel-last)."""
        return self.dx_buffers.get(dout.shape, dout.dtype, dout, memory_order(dout))


@twin_of("relu")
class FastReLU(_FastElementwise, ReLU):
    """ReLU with a reused bool mask, in place on a fresh input and on a scratch dout: out = max(0, x), any shape (N, ...)."""

    fresh_output = True  # the result is new, or x itself when the graph said x was fresh
    # scratch_dx: dx is its own scratch, or dout itself when the graph said dout was one

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._mask = Scratch()
        # Set by `wiring.wire` when the one reader is a max pool that applies relu to its own output
        # (max and relu commute): forward returns x and backward dout untouched, the pool does the work.
        self.left_to_pool = False

    def forward(self, x: np.ndarray) -> np.ndarray:
        # a bool mask, reused across steps: multiplying by it costs the same as by a 0/1 float mask
        # (NumPy >= 2), and casting it to float cost ~6x the whole forward on (512, 1024). Left to
        # the pool, only kink_state reads it; keeping x instead kept a float array alive till the next step.
        if self.training:
            self._saved = np.greater(x, 0, out=self._mask.get(x.shape, np.bool_, memory_order(x)))
        else:
            self._saved = None
        if self.left_to_pool:
            return x
        if self.may_overwrite_input:
            return np.maximum(x, 0, out=x)
        return np.maximum(x, 0)  # laid out like x (NumPy's order="K")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.left_to_pool:
            self._cached()  # raises without a training-mode forward
            if self.may_overwrite_dout:
                return dout
            dx = self._dx_like(dout)
            np.copyto(dx, dout)
            return dx
        out = dout if self.may_overwrite_dout else self._dx_like(dout)
        return np.multiply(dout, self._cached(), out=out)

    def kink_state(self) -> Optional[np.ndarray]:
        return None if self._saved is None else self._saved.copy()


@twin_of("leaky_relu")
class FastLeakyReLU(_FastElementwise, LeakyReLU):
    """LeakyReLU with the slope (1 or alpha) cached by arithmetic: out = x · slope, any shape (N, ...)."""

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


@twin_of("elu")
class FastELU(_FastElementwise, ELU):
    """ELU in place: out = x if x > 0 else alpha·(exp(x) - 1), any shape (N, ...)."""

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


@twin_of("sigmoid")
class FastSigmoid(_FastElementwise, Sigmoid):
    """Sigmoid with dx = dout · out · (1 - out) in a reused buffer, any shape (N, ...)."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached()
        dx = np.subtract(1, out, out=self._dx_like(dout))
        dx *= out
        dx *= dout
        return dx


@twin_of("tanh")
class FastTanh(_FastElementwise, Tanh):
    """Tanh with dx = dout · (1 - out²) in a reused buffer, any shape (N, ...)."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached()
        dx = np.multiply(out, out, out=self._dx_like(dout))
        np.subtract(1, dx, out=dx)
        dx *= dout
        return dx


@twin_of("softmax")
class FastSoftmax(_FastElementwise, Softmax):
    """Softmax over axis 1 shifted by the global max (one fast reduction), dx in a reused buffer; other axes: the reference's."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.axis != (1,):  # declined: the reference computation
            return Softmax.forward(self, x)
        out, total, _ = softmax_numerator(x)
        out /= total
        self._keep(out)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.axis != (1,):
            return Softmax.backward(self, dout)
        out = self._cached()
        dx = np.multiply(dout, out, out=self._dx_like(dout))
        total = dx.sum(axis=1, keepdims=True)
        np.subtract(dout, total, out=dx)
        dx *= out
        return dx
