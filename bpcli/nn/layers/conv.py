"""Spatial layers on NCHW arrays: conv2d (im2col + one matrix product), maxpool2d, avgpool2d."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bpcli.errors import ShapeError
from bpcli.nn.init import INITIALIZERS
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import check_option, grad_buffer, need_rank, no_cache


def _out_size(layer: str, size: int, kernel: int, stride: int, padding: int, shape: tuple) -> int:
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ShapeError(
            f"{layer}: a {kernel}x{kernel} window (padding {padding}) does not fit input of shape {tuple(shape)}"
        )
    return out


def _windows(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    """Strided view (N, C, Ho, Wo, k, k) of every k×k window of x (N, C, H, W) at the given stride."""
    return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]


def _scatter_windows(dx: np.ndarray, parts, k: int, stride: int, ho: int, wo: int) -> None:
    """dx[:, :, i + s·a, j + s·b] += parts(i, j)[:, :, a, b] for every kernel offset (i, j): col2im without np.add.at."""
    for i in range(k):
        for j in range(k):
            dx[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += parts(i, j)


@dataclass
class _ConvCache:
    cols: np.ndarray  # (N·Ho·Wo, C·k·k) im2col matrix of the padded input
    x_shape: tuple  # (N, C, H, W)
    out_hw: tuple  # (Ho, Wo)


@LAYERS.register("conv2d")
class Conv2D(Layer):
    """out[n, f] = Σ_c,i,j W[f, c, i, j] · xpad[n, c, s·h + i, s·w + j] + b[f]: x (N, C, H, W), W (F, C, k, k), b (F,), out (N, F, Ho, Wo)."""

    shorthand = "filters"
    weight_params = ("W",)
    examples = (
        ({"filters": 2, "kernel": 3, "padding": 1}, (2, 5, 5)),
        ({"filters": 3, "kernel": 2, "stride": 2}, (1, 4, 4)),
        ({"filters": 2, "kernel": 3, "stride": 2, "padding": 1, "bias": False}, (2, 5, 6)),
    )

    def __init__(
        self, *, filters: int = 8, kernel: int = 3, stride: int = 1, padding: int = 0, init: str = "he", bias: bool = True
    ):
        super().__init__()
        for option, value, low in (("filters", filters, 1), ("kernel", kernel, 1), ("stride", stride, 1), ("padding", padding, 0)):
            check_option(value >= low, "conv2d", option, f"must be >= {low}, got {value}")
        self.filters, self.kernel, self.stride, self.padding = filters, kernel, stride, padding
        self.init = INITIALIZERS.get(init)
        self.bias = bias
        self._cache: Optional[_ConvCache] = None

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        need_rank("conv2d", input_shape, 3, "(C, H, W)")
        c, h, w = input_shape
        k, s, p = self.kernel, self.stride, self.padding
        ho = _out_size("conv2d", h, k, s, p, input_shape)
        wo = _out_size("conv2d", w, k, s, p, input_shape)
        fan_in = c * k * k
        self.params["W"] = self.init((self.filters, c, k, k), fan_in, self.filters * k * k, rng, dtype)
        if self.bias:
            self.params["b"] = np.zeros(self.filters, dtype=dtype)
        self.grads = {key: np.zeros_like(v) for key, v in self.params.items()}
        return (self.filters, ho, wo)

    def _im2col(self, x: np.ndarray) -> tuple[np.ndarray, int, int]:
        p, k = self.padding, self.kernel
        if p:
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        win = _windows(x, k, self.stride)  # (N, C, Ho, Wo, k, k)
        n, c, ho, wo = win.shape[:4]
        cols = np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * ho * wo, c * k * k)
        return cols, ho, wo

    def forward(self, x: np.ndarray) -> np.ndarray:
        cols, ho, wo = self._im2col(x)
        W = self.params["W"]
        out = cols @ W.reshape(W.shape[0], -1).T  # (N·Ho·Wo, F)
        if self.bias:
            out += self.params["b"]
        self._cache = _ConvCache(cols, x.shape, (ho, wo)) if self.caching else None
        return np.ascontiguousarray(out.reshape(x.shape[0], ho, wo, -1).transpose(0, 3, 1, 2))

    def backward(self, dout: np.ndarray) -> Optional[np.ndarray]:
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        W = self.params["W"]
        f = W.shape[0]
        dout2 = np.ascontiguousarray(dout.transpose(0, 2, 3, 1)).reshape(-1, f)  # (N·Ho·Wo, F)
        np.matmul(dout2.T, cache.cols, out=grad_buffer(self, "W").reshape(f, -1))
        if self.bias:
            np.sum(dout2, axis=0, out=grad_buffer(self, "b"))
        if not self.needs_input_grad:
            return None
        n, c, h, w = cache.x_shape
        ho, wo = cache.out_hw
        k, s, p = self.kernel, self.stride, self.padding
        dcols = (dout2 @ W.reshape(f, -1)).reshape(n, ho, wo, c, k, k)
        dxp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dout.dtype)
        _scatter_windows(dxp, lambda i, j: dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2), k, s, ho, wo)
        return dxp[:, :, p : p + h, p : p + w] if p else dxp


class _Pool(Layer):
    """Shared options and shape rule of the pooling layers: size×size windows every `stride` (default size)."""

    examples = (({}, (2, 4, 4)), ({"size": 3, "stride": 1}, (1, 4, 5)), ({"size": 2, "stride": 1}, (2, 3, 3)))

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
        return (c, _out_size(name, h, self.size, self.stride, 0, input_shape), _out_size(name, w, self.size, self.stride, 0, input_shape))


@dataclass
class _MaxPoolCache:
    argmax: np.ndarray  # (N, C, Ho, Wo) flat index i·k + j of each window's maximum
    x_shape: tuple


@LAYERS.register("maxpool2d")
class MaxPool2D(_Pool):
    """out[n, c, h, w] = max over the k×k window at (s·h, s·w): x (N, C, H, W), out (N, C, Ho, Wo); dx routes dout to each argmax."""

    def __init__(self, *, size: int = 2, stride: Optional[int] = None):
        super().__init__(size=size, stride=stride)
        self._cache: Optional[_MaxPoolCache] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        win = _windows(x, self.size, self.stride)
        flat = win.reshape(win.shape[:4] + (-1,))  # copies: (N, C, Ho, Wo, k·k)
        argmax = flat.argmax(axis=-1)
        out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
        self._cache = _MaxPoolCache(argmax, x.shape) if self.caching else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        k = self.size
        dwin = np.zeros(dout.shape + (k * k,), dtype=dout.dtype)  # dout placed at each window's argmax
        np.put_along_axis(dwin, cache.argmax[..., None], dout[..., None], axis=-1)
        dwin = dwin.reshape(dout.shape + (k, k))
        dx = np.zeros(cache.x_shape, dtype=dout.dtype)
        ho, wo = dout.shape[2:]
        _scatter_windows(dx, lambda i, j: dwin[..., i, j], k, self.stride, ho, wo)
        return dx

    def kink_state(self) -> Optional[np.ndarray]:
        return None if self._cache is None else self._cache.argmax


@LAYERS.register("avgpool2d")
class AvgPool2D(_Pool):
    """out[n, c, h, w] = mean over the k×k window at (s·h, s·w): x (N, C, H, W), out (N, C, Ho, Wo); dx spreads dout / k²."""

    def __init__(self, *, size: int = 2, stride: Optional[int] = None):
        super().__init__(size=size, stride=stride)
        self._x_shape: Optional[tuple] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = _windows(x, self.size, self.stride).mean(axis=(-2, -1), dtype=x.dtype)
        self._x_shape = x.shape if self.caching else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._x_shape is None:
            raise no_cache(self)
        k = self.size
        share = dout * dout.dtype.type(1.0 / (k * k))
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        ho, wo = dout.shape[2:]
        _scatter_windows(dx, lambda i, j: share, k, self.stride, ho, wo)
        return dx
