"""Spatial layers on NCHW arrays: conv2d (a window view + one matrix product), maxpool2d, avgpool2d.

Notation: x (N, C, H, W); a kh×kw window every (sh, sw) pixels over x padded by (ph, pw) gives
Ho = (H + 2·ph - kh) // sh + 1 rows and Wo = (W + 2·pw - kw) // sw + 1 columns of windows.
Every window option is one number (the same along H and W) or a list [along H, along W].
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bpcli.errors import ShapeError
from bpcli.nn.init import initializer
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import check_option, need_rank, no_cache


Pair = Union[int, Tuple[int, int]]  # one number for both axes, or [along H, along W]


def as_pair(layer: str, option: str, value: Pair, low: int) -> tuple[int, int]:
    """(along H, along W) from an option that is a number or a list of two; SpecError when below `low`."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    check_option(len(pair) == 2 and all(isinstance(v, int) for v in pair), layer, option,
                 f"must be a number or a list [along H, along W], got {value!r}")
    check_option(min(pair) >= low, layer, option, f"must be >= {low}, got {value!r}")
    return pair  # type: ignore[return-value]


def compact(pair: tuple[int, int]) -> Pair:
    """A pair with equal members as one number (how the option reads back, and what fast kernels take)."""
    return pair[0] if pair[0] == pair[1] else pair


def out_size(layer: str, size: int, kernel: int, stride: int, padding: int, shape: tuple, window: str = "") -> int:
    """Windows along one axis: (size + 2·padding - kernel) // stride + 1 (ShapeError when none fits)."""
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ShapeError(
            f"{layer}: a {window or f'{kernel}x{kernel}'} window (padding {padding}) does not fit input of shape {tuple(shape)}"
        )
    return out


def out_hw(layer: str, shape: tuple, k: tuple, s: tuple, p: tuple) -> tuple[int, int]:
    """(Ho, Wo) for (C, H, W) inputs, kh×kw windows every (sh, sw) over x padded by (ph, pw)."""
    window = f"{k[0]}x{k[1]}"
    return (out_size(layer, shape[1], k[0], s[0], p[0], shape, window),
            out_size(layer, shape[2], k[1], s[1], p[1], shape, window))


def windows(x: np.ndarray, k: tuple, s: tuple) -> np.ndarray:
    """The kh×kw windows of x (N, C, H, W) every (sh, sw) pixels, a view (N, C, Ho, Wo, kh, kw)."""
    return sliding_window_view(x, k, axis=(2, 3))[:, :, :: s[0], :: s[1]]


def window_offset(x: np.ndarray, i: int, j: int, s: tuple, ho: int, wo: int) -> np.ndarray:
    """x[:, :, i + sh·a, j + sw·b] for a < Ho, b < Wo: the entry at offset (i, j) of every window, a view."""
    return x[:, :, i : i + s[0] * (ho - 1) + 1 : s[0], j : j + s[1] * (wo - 1) + 1 : s[1]]


@LAYERS.register("conv2d")
class Conv2D(Layer):
    """out[n, f] = Σ_c,i,j W[f, c, i, j] · xpad[n, c, sh·h + i, sw·w + j] + b[f]: x (N, C, H, W), W (F, C, kh, kw), b (F,), out (N, F, Ho, Wo)."""

    shorthand = "filters"
    weight_params = ("W",)
    examples = (
        ({"filters": 2, "kernel": 3, "padding": 1}, (2, 5, 5)),
        ({"filters": 3, "kernel": 2, "stride": 2}, (1, 4, 4)),
        ({"filters": 2, "kernel": 3, "stride": 2, "padding": 1, "bias": False}, (2, 5, 6)),
        ({"filters": 2, "kernel": 2, "padding": 2}, (2, 3, 4)),
        ({"filters": 2, "kernel": [2, 3], "stride": [1, 2], "padding": [0, 1]}, (2, 4, 5)),
        ({"filters": 3, "kernel": [3, 1], "stride": [2, 1]}, (1, 5, 3)),
    )

    def __init__(
        self, *, filters: int = 8, kernel: Pair = 3, stride: Pair = 1, padding: Pair = 0, init: Union[str, float] = "he", bias: bool = True
    ):
        super().__init__()
        check_option(filters >= 1, "conv2d", "filters", f"must be >= 1, got {filters}")
        self.kernel_hw = as_pair("conv2d", "kernel", kernel, 1)
        self.stride_hw = as_pair("conv2d", "stride", stride, 1)
        self.padding_hw = as_pair("conv2d", "padding", padding, 0)
        self.filters = filters
        self.kernel, self.stride, self.padding = compact(self.kernel_hw), compact(self.stride_hw), compact(self.padding_hw)
        self.init = initializer(init)
        self.bias = bias
        self._cols: Optional[np.ndarray] = None  # (N·Ho·Wo, C·kh·kw): one row per window, cached for dW
        self._x_shape: tuple = ()

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        need_rank("conv2d", input_shape, 3, "(C, H, W)")
        c = input_shape[0]
        (kh, kw), s, p = self.kernel_hw, self.stride_hw, self.padding_hw
        ho, wo = out_hw("conv2d", input_shape, self.kernel_hw, s, p)
        self.params["W"] = self.init((self.filters, c, kh, kw), c * kh * kw, self.filters * kh * kw, rng, dtype)
        if self.bias:
            self.params["b"] = np.zeros(self.filters, dtype=dtype)
        self.grads = {key: np.zeros_like(v) for key, v in self.params.items()}
        return (self.filters, ho, wo)

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        (kh, kw), s, (ph, pw) = self.kernel_hw, self.stride_hw, self.padding_hw
        xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        view = windows(xpad, (kh, kw), s)  # (N, C, Ho, Wo, kh, kw)
        ho, wo = view.shape[2:4]
        cols = view.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)  # im2col: a copy
        W = self.params["W"].reshape(self.filters, -1)  # (F, C·kh·kw), columns ordered like cols'
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
        (kh, kw), s, (ph, pw) = self.kernel_hw, self.stride_hw, self.padding_hw
        d = dout.transpose(0, 2, 3, 1).reshape(n * ho * wo, f)  # rows like cols'
        W = self.params["W"]
        self.grads["W"] = (d.T @ cols).reshape(W.shape)
        if self.bias:
            self.grads["b"] = d.sum(axis=0)
        dcols = (d @ W.reshape(f, -1)).reshape(n, ho, wo, c, kh, kw)
        # col2im: every window sends its gradient back to the pixels it read (overlaps add up)
        dxpad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dout.dtype)
        for i in range(kh):
            for j in range(kw):
                window_offset(dxpad, i, j, s, ho, wo)[...] += dcols[..., i, j].transpose(0, 3, 1, 2)
        return dxpad[:, :, ph : ph + h, pw : pw + w].copy()


class _Pool(Layer):
    """Shared options and shape rule of the pooling layers: kh×kw windows (`size`) every `stride` (default: size)."""

    examples = (
        ({}, (2, 4, 4)),
        ({"size": 3, "stride": 1}, (1, 4, 5)),
        ({"size": 2, "stride": 1}, (2, 3, 3)),
        ({}, (2, 5, 4)),
        ({"size": 3}, (1, 6, 7)),
        ({"size": [2, 1]}, (2, 4, 3)),
        ({"size": [1, 2]}, (1, 3, 4)),
        ({"size": [2, 3], "stride": [1, 2]}, (2, 4, 7)),
    )

    def __init__(self, *, size: Pair = 2, stride: Optional[Pair] = None):
        super().__init__()
        name = type(self).registered_name
        self.size_hw = as_pair(name, "size", size, 1)
        self.stride_hw = self.size_hw if stride is None else as_pair(name, "stride", stride, 1)
        self.size, self.stride = compact(self.size_hw), compact(self.stride_hw)

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        name = type(self).registered_name
        need_rank(name, input_shape, 3, "(C, H, W)")
        return (input_shape[0], *out_hw(name, input_shape, self.size_hw, self.stride_hw, (0, 0)))


@LAYERS.register("maxpool2d")
class MaxPool2D(_Pool):
    """out[n, c, h, w] = max over the kh×kw window at (sh·h, sw·w): x (N, C, H, W), out (N, C, Ho, Wo); dx routes dout to each argmax."""

    def __init__(self, *, size: Pair = 2, stride: Optional[Pair] = None):
        super().__init__(size=size, stride=stride)
        self._argmax: Optional[np.ndarray] = None  # (N, C, Ho, Wo): offset i·kw + j of each window's first maximum
        self._x_shape: tuple = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        kh, kw = self.size_hw
        view = windows(x, self.size_hw, self.stride_hw)
        flat = view.reshape(*view.shape[:4], kh * kw)  # (N, C, Ho, Wo, kh·kw)
        argmax = flat.argmax(axis=-1)  # ties: the first maximum in raster order
        self._argmax, self._x_shape = (argmax, x.shape) if self.training else (None, ())
        return np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dx[n, c, sh·h + i, sw·w + j] += dout[n, c, h, w] where (i, j) is the window's argmax."""
        if self._argmax is None:
            raise no_cache(self)
        i, j = np.divmod(self._argmax, self.size_hw[1])
        n, c, h, w = np.indices(dout.shape)
        sh, sw = self.stride_hw
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        np.add.at(dx, (n, c, sh * h + i, sw * w + j), dout)
        return dx

    def kink_state(self) -> Optional[np.ndarray]:
        """Each window's argmax offset i·kw + j."""
        return self._argmax


@LAYERS.register("avgpool2d")
class AvgPool2D(_Pool):
    """out[n, c, h, w] = mean over the kh×kw window at (sh·h, sw·w): x (N, C, H, W), out (N, C, Ho, Wo); dx spreads dout / (kh·kw)."""

    def __init__(self, *, size: Pair = 2, stride: Optional[Pair] = None):
        super().__init__(size=size, stride=stride)
        self._x_shape: Optional[tuple] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x_shape = x.shape if self.training else None
        return windows(x, self.size_hw, self.stride_hw).mean(axis=(4, 5))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Every entry of a window gets dout / (kh·kw) of it (overlaps add up)."""
        if self._x_shape is None:
            raise no_cache(self)
        kh, kw = self.size_hw
        ho, wo = dout.shape[2:]
        share = dout / dout.dtype.type(kh * kw)
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        for i in range(kh):
            for j in range(kw):
                window_offset(dx, i, j, self.stride_hw, ho, wo)[...] += share
        return dx
