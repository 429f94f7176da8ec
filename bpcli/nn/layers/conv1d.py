"""conv1d: convolution along the one axis of (N, C, L) inputs (sequences, signals)."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bpcli.nn.init import initializer
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import check_option, need_rank, no_cache
from bpcli.nn.layers.conv import out_size


@LAYERS.register("conv1d")
class Conv1D(Layer):
    """out[n, f, l] = Σ_c,i W[f, c, i] · xpad[n, c, s·l + i] + b[f]: x (N, C, L), W (F, C, k), b (F,), out (N, F, Lo), Lo = (L + 2p - k) // s + 1."""

    shorthand = "filters"
    weight_params = ("W",)
    examples = (
        ({"filters": 2, "kernel": 3}, (2, 6)),
        ({"filters": 3, "kernel": 2, "stride": 2, "padding": 1}, (1, 5)),
        ({"filters": 2, "kernel": 4, "padding": 3, "bias": False}, (3, 4)),
    )

    def __init__(
        self, *, filters: int = 8, kernel: int = 3, stride: int = 1, padding: int = 0, init: Union[str, float] = "he", bias: bool = True
    ):
        super().__init__()
        for option, value, low in (("filters", filters, 1), ("kernel", kernel, 1), ("stride", stride, 1), ("padding", padding, 0)):
            check_option(value >= low, "conv1d", option, f"must be >= {low}, got {value}")
        self.filters, self.kernel, self.stride, self.padding = filters, kernel, stride, padding
        self.init = initializer(init)
        self.bias = bias
        self._cols: Optional[np.ndarray] = None  # (N·Lo, C·k): one row per window, cached for dW
        self._x_shape: tuple = ()

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        need_rank("conv1d", input_shape, 2, "(C, L)")
        c, length = input_shape
        k = self.kernel
        lo = out_size("conv1d", length, k, self.stride, self.padding, input_shape, window=f"length-{k}")
        self.params["W"] = self.init((self.filters, c, k), c * k, self.filters * k, rng, dtype)
        if self.bias:
            self.params["b"] = np.zeros(self.filters, dtype=dtype)
        self.grads = {key: np.zeros_like(v) for key, v in self.params.items()}
        return (self.filters, lo)

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c, _ = x.shape
        k, s, p = self.kernel, self.stride, self.padding
        xpad = np.pad(x, ((0, 0), (0, 0), (p, p)))
        view = sliding_window_view(xpad, k, axis=2)[:, :, ::s]  # (N, C, Lo, k)
        lo = view.shape[2]
        cols = view.transpose(0, 2, 1, 3).reshape(n * lo, c * k)  # im2col: a copy
        out = cols @ self.params["W"].reshape(self.filters, -1).T  # (N·Lo, F)
        if self.bias:
            out += self.params["b"]
        self._cols, self._x_shape = (cols, x.shape) if self.training else (None, ())
        return np.ascontiguousarray(out.reshape(n, lo, self.filters).transpose(0, 2, 1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (N, F, Lo) -> dx (N, C, L); dW = doutᵀ @ cols, db = Σ dout, dcols = dout @ W, then col2im."""
        cols = self._cols
        if cols is None:
            raise no_cache(self)
        n, c, length = self._x_shape
        f, lo = dout.shape[1:]
        k, s, p = self.kernel, self.stride, self.padding
        d = dout.transpose(0, 2, 1).reshape(n * lo, f)
        W = self.params["W"]
        self.grads["W"] = (d.T @ cols).reshape(W.shape)
        if self.bias:
            self.grads["b"] = d.sum(axis=0)
        dcols = (d @ W.reshape(f, -1)).reshape(n, lo, c, k)
        dxpad = np.zeros((n, c, length + 2 * p), dtype=dout.dtype)
        for i in range(k):  # every window sends its gradient back to the entries it read
            dxpad[:, :, i : i + s * (lo - 1) + 1 : s] += dcols[..., i].transpose(0, 2, 1)
        return dxpad[:, :, p : p + length].copy()
