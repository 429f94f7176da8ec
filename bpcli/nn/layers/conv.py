"""Spatial layers on NCHW arrays: conv2d (a window view + one matrix product), maxpool2d, avgpool2d.

Notation: x (N, C, H, W); a k×k window every s pixels over x padded by p gives
Ho = (H + 2p - k) // s + 1 rows and Wo = (W + 2p - k) // s + 1 columns of windows.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bpcli.errors import ShapeError
from bpcli.nn.init import initializer
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import check_option, need_rank, no_cache


def out_size(layer: str, size: int, kernel: int, stride: int, padding: int, shape: tuple) -> int:
    """Windows along one axis: (size + 2·padding - kernel) // stride + 1 (ShapeError when none fits)."""
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ShapeError(
            f"{layer}: a {kernel}x{kernel} window (padding {padding}) does not fit input of shape {tuple(shape)}"
        )
    return out


def windows(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """The k×k windows of x (N, C, H, W) every s pixels, a view (N, C, Ho, Wo, k, k)."""
    return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]


def window_offset(x: np.ndarray, i: int, j: int, s: int, ho: int, wo: int) -> np.ndarray:
    """x[:, :, i + s·a, j + s·b] for a < Ho, b < Wo: the entry at offset (i, j) of every window, a view."""
    return x[:, :, i : i + s * (ho - 1) + 1 : s, j : j + s * (wo - 1) + 1 : s]


@LAYERS.register("conv2d")
class Conv2D(Layer):
    """out[n, f] = Σ_c,i,j W[f, c, i, j] · xpad[n, c, s·h + i, s·w + j] + b[f]: x (N, C, H, W), W (F, C, k, k), b (F,), out (N, F, Ho, Wo)."""

    shorthand = "filters"
    weight_params = ("W",)
    examples = (
        ({"filters": 2, "kernel": 3, "padding": 1}, (2, 5, 5)),
        ({"filters": 3, "kernel": 2, "stride": 2}, (1, 4, 4)),
        ({"filters": 2, "kernel": 3, "stride": 2, "padding": 1, "bias": False}, (2, 5, 6)),
        ({"filters": 2, "kernel": 2, "padding": 2}, (2, 3, 4)),
    )

    def __init__(
        self, *, filters: int = 8, kernel: int = 3, stride: int = 1, padding: int = 0, init: Union[str, float] = "he", bias: bool = True
    ):
        super().__init__()
        for option, value, low in (("filters", filters, 1), ("kernel", kernel, 1), ("stride", stride, 1), ("padding", padding, 0)):
            check_option(value >= low, "conv2d", option, f"must be >= {low}, got {value}")
        self.filters, self.kernel, self.stride, self.padding = filters, kernel, stride, padding
        self.init = initializer(init)
        self.bias = bias
        self._cols: Optional[np.ndarray] = None  # (N·Ho·Wo, C·k·k): one row per window, cached for dW
        self._x_shape: tuple = ()

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        need_rank("conv2d", input_shape, 3, "(C, H, W)")
        c, h, w = input_shape
        k, s, p = self.kernel, self.stride, self.padding
        ho = out_size("conv2d", h, k, s, p, input_shape)
        wo = out_size("conv2d", w, k, s, p, input_shape)
        self.params["W"] = self.init((self.filters, c, k, k), c * k * k, self.filters * k * k, rng, dtype)
        if self.bias:
            self.params["b"] = np.zeros(self.filters, dtype=dtype)
        self.grads = {key: np.zeros_like(v) for key, v in self.params.items()}
        return (self.filters, ho, wo)

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        k, s, p = self.kernel, self.stride, self.padding
        xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        view = windows(xpad, k, s)  # (N, C, Ho, Wo, k, k)
        ho, wo = view.shape[2:4]
        cols = view.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * k * k)  # im2col: a copy
        W = self.params["W"].reshape(self.filters, -1)  # (F, C·k·k), columns ordered like cols'
        out = cols @ W.T  # (N·Ho·Wo, F): every window times every filter
        if self.bias:
            out += self.params["b"]
        self._cols, self._x_shape = (cols, x.shape) if self.training else (None, ())
        return np.ascontiguousarray(out.reshape(n, ho, wo, self.filters).transpose(0, 3, 1, 2))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (N, F, Ho, Wo) -> dx (N, C, H, W); dW = doutᵀ @ cols, db = Σ dout, dcols = dout @ W, then col2im."""
        cols = self._cols
        if cols is None:
            raise no_cache(self)
        n, c, h, w = self._x_shape
        f, ho, wo = dout.shape[1:]
        k, s, p = self.kernel, self.stride, self.padding
        d = dout.transpose(0, 2, 3, 1).reshape(n * ho * wo, f)  # rows like cols'
        W = self.params["W"]
        self.grads["W"] = (d.T @ cols).reshape(W.shape)
        if self.bias:
            self.grads["b"] = d.sum(axis=0)
        dcols = (d @ W.reshape(f, -1)).reshape(n, ho, wo, c, k, k)
        # col2im: every window sends its gradient back to the pixels it read (overlaps add up)
        dxpad = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dout.dtype)
        for i in range(k):
            for j in range(k):
                window_offset(dxpad, i, j, s, ho, wo)[...] += dcols[..., i, j].transpose(0, 3, 1, 2)
        return dxpad[:, :, p : p + h, p : p + w].copy()


class _Pool(Layer):
    """Shared options and shape rule of the pooling layers: size×size windows every `stride` (default size)."""

    examples = (
        ({}, (2, 4, 4)),
        ({"size": 3, "stride": 1}, (1, 4, 5)),
        ({"size": 2, "stride": 1}, (2, 3, 3)),
        ({}, (2, 5, 4)),
        ({"size": 3}, (1, 6, 7)),
    )

    def __init__(self, *, size: int = 2, stride: Optional[int] = None):
        super().__init__()
        name = type(self).registered_name
        check_option(size >= 1, name, "size", f"must be >= 1, got {size}")
        check_option(stride is None or stride >= 1, name, "stride", f"must be >= 1, got {stride}")
        self.size = size
        self.stride = size if stride is None else stride

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        name = type(self).registered_name
        need_rank(name, input_shape, 3, "(C, H, W)")
        c, h, w = input_shape
        return (c, out_size(name, h, self.size, self.stride, 0, input_shape), out_size(name, w, self.size, self.stride, 0, input_shape))


@LAYERS.register("maxpool2d")
class MaxPool2D(_Pool):
    """out[n, c, h, w] = max over the k×k window at (s·h, s·w): x (N, C, H, W), out (N, C, Ho, Wo); dx routes dout to each argmax."""

    def __init__(self, *, size: int = 2, stride: Optional[int] = None):
        super().__init__(size=size, stride=stride)
        self._argmax: Optional[np.ndarray] = None  # (N, C, Ho, Wo): offset i·k + j of each window's first maximum
        self._x_shape: tuple = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c = x.shape[:2]
        k = self.size
        view = windows(x, k, self.stride)
        flat = view.reshape(*view.shape[:4], k * k)  # (N, C, Ho, Wo, k·k)
        argmax = flat.argmax(axis=-1)  # ties: the first maximum in raster order
        self._argmax, self._x_shape = (argmax, x.shape) if self.training else (None, ())
        return np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dx[n, c, s·h + i, s·w + j] += dout[n, c, h, w] where (i, j) is the window's argmax."""
        if self._argmax is None:
            raise no_cache(self)
        i, j = np.divmod(self._argmax, self.size)
        n, c, h, w = np.indices(dout.shape)
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        np.add.at(dx, (n, c, self.stride * h + i, self.stride * w + j), dout)
        return dx

    def kink_state(self) -> Optional[np.ndarray]:
        """Each window's argmax offset i·k + j."""
        return self._argmax


@LAYERS.register("avgpool2d")
class AvgPool2D(_Pool):
    """out[n, c, h, w] = mean over the k×k window at (s·h, s·w): x (N, C, H, W), out (N, C, Ho, Wo); dx spreads dout / k²."""

    def __init__(self, *, size: int = 2, stride: Optional[int] = None):
        super().__init__(size=size, stride=stride)
        self._x_shape: Optional[tuple] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x_shape = x.shape if self.training else None
        return windows(x, self.size, self.stride).mean(axis=(4, 5))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Every entry of a window gets dout / k² of it (overlaps add up)."""
        if self._x_shape is None:
            raise no_cache(self)
        k, s = self.size, self.stride
        ho, wo = dout.shape[2:]
        share = dout / dout.dtype.type(k * k)
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        for i in range(k):
            for j in range(k):
                window_offset(dx, i, j, s, ho, wo)[...] += share
        return dx
