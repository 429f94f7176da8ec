"""User layers for the broken-spec catalogue: one real Layer, one class that is not a Layer."""

import numpy as np

from bpcli.nn.layer import Layer


class Swish(Layer):
    """out = x · σ(x), any shape (N, ...)."""

    def forward(self, x):
        self._x = x
        return x / (1.0 + np.exp(-x))

    def backward(self, dout):
        s = 1.0 / (1.0 + np.exp(-self._x))
        return dout * (s + self._x * s * (1.0 - s))


class NotALayer:
    """Has forward/backward but does not subclass Layer."""

    def forward(self, x):
        return x

    def backward(self, dout):
        return dout
