"""Spatial layers on NCHW arrays: conv2d (im2col + one matrix product), maxpool2d, avgpool2d.

Windows are handled one kernel offset (i, j) at a time: the strided view of every entry that
offset sees is a plain slice, so im2col, col2im and pooling are k² bulk copies or adds
(no np.add.at, no argmax over short axes, both of which are slow in NumPy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

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


def _offset_view(x: np.ndarray, i: int, j: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """x[:, :, i + s·a, j + s·b] for a < ho, b < wo: the entries that kernel offset (i, j) sees."""
    return x[:, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]


@dataclass
class _ConvCache:
    cols: np.ndarray  # (C·k·k, N·Ho·Wo) im2col matrix of the padded input
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
        """cols (C·k·k, N·Ho·Wo): rows ordered like W's (c, i, j), columns like the output's (n, h, w)."""
        p, k, s = self.padding, self.kernel, self.stride
        if p:
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        n, c = x.shape[:2]
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        cols = np.empty((c, k, k, n, ho, wo), dtype=x.dtype)
        xt = x.transpose(1, 0, 2, 3)  # (C, N, Hp, Wp): each copy below moves rows of Wo entries
        for i in range(k):
            for j in range(k):
                cols[:, i, j] = _offset_view(xt, i, j, s, ho, wo)
        return cols.reshape(c * k * k, n * ho * wo), ho, wo

    def forward(self, x: np.ndarray) -> np.ndarray:
        cols, ho, wo = self._im2col(x)
        W = self.params["W"]
        f = W.shape[0]
        out = W.reshape(f, -1) @ cols  # (F, N·Ho·Wo)
        if self.bias:
            out += self.params["b"][:, None]
        self._cache = _ConvCache(cols, x.shape, (ho, wo)) if self.caching else None
        return np.ascontiguousarray(out.reshape(f, x.shape[0], ho, wo).transpose(1, 0, 2, 3))

    def backward(self, dout: np.ndarray) -> Optional[np.ndarray]:
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        W = self.params["W"]
        f = W.shape[0]
        dout_t = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(f, -1)  # (F, N·Ho·Wo)
        np.matmul(dout_t, cache.cols.T, out=grad_buffer(self, "W").reshape(f, -1))
        if self.bias:
            np.add.reduce(dout_t, axis=1, out=grad_buffer(self, "b"))
        if not self.needs_input_grad:
            return None
        n, c, h, w = cache.x_shape
        ho, wo = cache.out_hw
        k, s, p = self.kernel, self.stride, self.padding
        dcols = (W.reshape(f, -1).T @ dout_t).reshape(c, k, k, n, ho, wo)
        dxp = np.zeros((c, n, h + 2 * p, w + 2 * p), dtype=dout.dtype)
        for i in range(k):  # col2im: one strided add per kernel offset instead of np.add.at
            for j in range(k):
                _offset_view(dxp, i, j, s, ho, wo)[...] += dcols[:, i, j]
        dx = dxp.transpose(1, 0, 2, 3)
        return np.ascontiguousarray(dx[:, :, p : p + h, p : p + w] if p else dx)


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
    argmax: np.ndarray  # (N, C, Ho, Wo) int8: offset i·k + j of each window's (first) maximum
    x_shape: tuple


@LAYERS.register("maxpool2d")
class MaxPool2D(_Pool):
    """out[n, c, h, w] = max over the k×k window at (s·h, s·w): x (N, C, H, W), out (N, C, Ho, Wo); dx routes dout to each argmax."""

    def __init__(self, *, size: int = 2, stride: Optional[int] = None):
        super().__init__(size=size, stride=stride)
        self._cache: Optional[_MaxPoolCache] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        # k² elementwise passes over strided views: much faster than argmax over a short last axis
        k, s = self.size, self.stride
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        out = _offset_view(x, 0, 0, s, ho, wo).copy()
        argmax = np.zeros(out.shape, dtype=np.int8 if k * k < 128 else np.int32)
        for offset in range(1, k * k):
            view = _offset_view(x, offset // k, offset % k, s, ho, wo)
            bigger = view > out  # strict: ties keep the first maximum, like argmax
            np.maximum(out, view, out=out)
            argmax += bigger * (argmax.dtype.type(offset) - argmax)
        self._cache = _MaxPoolCache(argmax, x.shape) if self.caching else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        k, s = self.size, self.stride
        ho, wo = dout.shape[2:]
        dx = np.zeros(cache.x_shape, dtype=dout.dtype)
        routed = np.empty_like(dout)
        for offset in range(k * k):
            np.multiply(dout, cache.argmax == offset, out=routed)
            _offset_view(dx, offset // k, offset % k, s, ho, wo)[...] += routed
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
        k, s = self.size, self.stride
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        out = _offset_view(x, 0, 0, s, ho, wo).copy()
        for offset in range(1, k * k):
            out += _offset_view(x, offset // k, offset % k, s, ho, wo)
        out *= out.dtype.type(1.0 / (k * k))
        self._x_shape = x.shape if self.caching else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._x_shape is None:
            raise no_cache(self)
        k, s = self.size, self.stride
        ho, wo = dout.shape[2:]
        share = dout * dout.dtype.type(1.0 / (k * k))
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        for offset in range(k * k):
            _offset_view(dx, offset // k, offset % k, s, ho, wo)[...] += share
        return dx
