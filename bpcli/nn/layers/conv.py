"""Spatial layers on NCHW arrays: conv2d (im2col + one matrix product), maxpool2d, avgpool2d.

conv2d's forward works channel-last (NHWC) inside its NCHW interface: cols (N·Ho·Wo, k·k·C) are
one window-view copy of the padded input laid out (N, Hp, Wp, C), and the product is ONE large
GEMM against W as (k·k·C, F), the fastest of the layouts measured (many small per-example GEMMs
each cost a BLAS thread wake-up). A single channel keeps cols offset-major (k·k, N·Ho·Wo) instead,
where whole planes copy. backward takes dout channel-major (F, N·Ho·Wo), a copy of whole planes:
dW = dout @ cols, and for stride 1 dx is computed on the padded (C, N·Hp·Wp) grid, where kernel
offset (i, j) is a shift of i·Wp + j, so col2im is k² long contiguous adds (an NHWC col2im adds
C-float runs and was 3x slower). Scratch buffers are reused while shapes stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bpcli.errors import ShapeError
from bpcli.nn.blas import gemm
from bpcli.nn.init import initializer
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import Scratch, check_option, grad_buffer, need_rank, no_cache


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


def _nhwc_offset_view(x: np.ndarray, i: int, j: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """x[:, i + s·a, j + s·b, :] for a < ho, b < wo: the entries of an (N, H, W, C) array that kernel offset (i, j) sees."""
    return x[:, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride, :]


def _zeroed(scratch: Scratch, shape: tuple, dtype: Any) -> np.ndarray:
    """scratch's buffer, zero-filled when it is (re)allocated: callers only ever rewrite its interior."""
    fresh = scratch.array is None or scratch.array.shape != shape or scratch.array.dtype != dtype
    a = scratch.get(shape, dtype)
    if fresh:
        a.fill(0)
    return a


@dataclass
class _ConvCache:
    cols: np.ndarray  # (N·Ho·Wo, k·k·C) im2col of the padded input; rows (n, h, w), columns (i, j, c); a transposed view when C = 1
    x_shape: tuple  # (N, C, H, W)
    out_hw: tuple  # (Ho, Wo)


@LAYERS.register("conv2d")
class Conv2D(Layer):
    """out[n, f] = Σ_c,i,j W[f, c, i, j] · xpad[n, c, s·h + i, s·w + j] + b[f]: x (N, C, H, W), W (F, C, k, k), b (F,), out (N, F, Ho, Wo)."""

    shorthand = "filters"
    weight_params = ("W",)
    fresh_output = True  # a new array each forward; the cache keeps cols, not the output
    scratch_dx = True  # dx is a reused buffer that backward only writes
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
        self._cache: Optional[_ConvCache] = None
        self._xpad, self._cols, self._prod, self._dout_t, self._dout_grid, self._dxpad, self._dx = (
            Scratch() for _ in range(7)
        )
        self._dW = Scratch()

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

    def _w_kkc_f(self) -> np.ndarray:
        """W as (k·k·C, F): rows (i, j, c) like cols' columns."""
        W = self.params["W"]
        return W.transpose(2, 3, 1, 0).reshape(-1, W.shape[0])

    def _im2col(self, x: np.ndarray) -> tuple[np.ndarray, int, int]:
        """cols (N·Ho·Wo, k·k·C) over a reused buffer: rows (n, h, w), columns (i, j, c)."""
        p, k, s = self.padding, self.kernel, self.stride
        n, c, h, w = x.shape
        xpad = _zeroed(self._xpad, (n, h + 2 * p, w + 2 * p, c), x.dtype)  # the border stays zero
        xpad[:, p : p + h, p : p + w, :] = x.transpose(0, 2, 3, 1)
        ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        if c == 1:
            # Stored offset-major (k·k, N·Ho·Wo) and returned as its transposed view: k² copies of whole
            # planes, and the forward GEMM then yields (F, N·Ho·Wo), whose NCHW copy moves whole planes.
            planes = self._cols.get((k, k, n, ho, wo), x.dtype)
            for i in range(k):
                for j in range(k):
                    planes[i, j] = _nhwc_offset_view(xpad, i, j, s, ho, wo)[..., 0]
            return planes.reshape(k * k, n * ho * wo).T, ho, wo
        cols = self._cols.get((n, ho, wo, k, k, c), x.dtype)
        windows = sliding_window_view(xpad, (k, k), axis=(1, 2))[:, ::s, ::s]  # (N, Ho, Wo, C, k, k)
        np.copyto(cols, windows.transpose(0, 1, 2, 4, 5, 3))  # one copy: 4x faster than k² copies of C-float runs
        return cols.reshape(n * ho * wo, k * k * c), ho, wo

    def forward(self, x: np.ndarray) -> np.ndarray:
        cols, ho, wo = self._im2col(x)
        f, n = self.filters, x.shape[0]
        out = np.empty((n, f, ho * wo), dtype=cols.dtype)
        if x.shape[1] == 1:  # cols is a view of (k·k, N·Ho·Wo): product channel-major
            prod = self._prod.get((f, cols.shape[0]), cols.dtype)  # reused: no page faults per step
            np.matmul(self._w_kkc_f().T, cols.T, out=prod)
            by_example = prod.reshape(f, n, ho * wo).transpose(1, 0, 2)
        else:
            prod = self._prod.get((cols.shape[0], f), cols.dtype)
            np.matmul(cols, self._w_kkc_f(), out=prod)
            by_example = prod.reshape(n, ho * wo, f).transpose(0, 2, 1)
        if self.bias:
            np.add(by_example, self.params["b"][:, None], out=out)  # bias added during the NCHW copy
        else:
            np.copyto(out, by_example)
        self._cache = _ConvCache(cols, x.shape, (ho, wo)) if self.caching else None
        return out.reshape(n, f, ho, wo)

    def backward(self, dout: np.ndarray) -> Optional[np.ndarray]:
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        W = self.params["W"]
        f, c, k, _ = W.shape
        n, _, ho, wo = dout.shape
        # dout channel-major (F, N·Ho·Wo): a copy of whole (Ho·Wo) planes, columns ordered like cols' rows
        dout_t = self._dout_t.get((f, n, ho * wo), dout.dtype)
        np.copyto(dout_t, dout.reshape(n, f, ho * wo).transpose(1, 0, 2))
        dout_t = dout_t.reshape(f, -1)
        # dWᵀ = colsᵀ @ doutᵀ, rows (i, j, c): this orientation measured 0.79 vs 0.91 ms (2 threads) for conv 16 -> 32 on 14x14
        dW_t = self._dW.get((k, k, c, f), dout.dtype)
        np.matmul(cache.cols.T, dout_t.T, out=dW_t.reshape(-1, f))
        np.copyto(grad_buffer(self, "W"), dW_t.transpose(3, 2, 0, 1))
        if self.bias:
            np.add.reduce(dout_t, axis=1, out=grad_buffer(self, "b"))
        if not self.needs_input_grad:
            return None
        dxpad = self._dx_stride1(dout_t, cache) if self.stride == 1 else self._dx_strided(dout_t, cache)
        h, w = cache.x_shape[2:]
        p = self.padding
        dx = self._dx.get(cache.x_shape, dout.dtype)
        np.copyto(dx, dxpad[:, :, p : p + h, p : p + w].transpose(1, 0, 2, 3))
        return dx

    def _dx_stride1(self, dout_t: np.ndarray, cache: _ConvCache) -> np.ndarray:
        """d(xpad) (C, N, Hp, Wp) = Σ over kernel offsets (i, j) of W[:, :, i, j]ᵀ @ dout, with dout placed
        at the top-left of each (Hp, Wp) plane and the product shifted by i·Wp + j: k² GEMMs that add
        into d(xpad) as they go (beta = 1), no (k·k·C, N·Hp·Wp) intermediate (1.71 -> 1.50 ms for
        conv 16 -> 32 on 14x14, batch 64)."""
        n, c, h, w = cache.x_shape
        ho, wo = cache.out_hw
        k, p = self.kernel, self.padding
        hp, wp = h + 2 * p, w + 2 * p
        f = dout_t.shape[0]
        m = n * hp * wp
        grid = _zeroed(self._dout_grid, (f, n, hp, wp), dout_t.dtype)  # outside [:ho, :wo] stays zero
        grid[:, :, :ho, :wo] = dout_t.reshape(f, n, ho, wo)
        grid = grid.reshape(f, m)
        w_blocks = np.ascontiguousarray(self.params["W"].transpose(2, 3, 1, 0))  # (k, k, C, F)
        dxpad = self._dxpad.get((c, m), dout_t.dtype)
        # Offset (i, j) moves grid entry q to q + i·Wp + j. Entries that cross into the next plane
        # come from outputs outside [:Ho, :Wo], where the grid is zero: one shift is exact.
        for i in range(k):
            for j in range(k):
                shift = i * wp + j
                gemm(w_blocks[i, j], grid[:, : m - shift], dxpad[:, shift:], 1.0, 1.0 if shift else 0.0)
        return dxpad.reshape(c, n, hp, wp)

    def _dx_strided(self, dout_t: np.ndarray, cache: _ConvCache) -> np.ndarray:
        """d(xpad) (C, N, Hp, Wp) for stride > 1: dcols = Wᵀ @ dout, then one strided add per kernel offset."""
        n, c, h, w = cache.x_shape
        ho, wo = cache.out_hw
        k, s, p = self.kernel, self.stride, self.padding
        dcols = (self._w_kkc_f() @ dout_t).reshape(k, k, c, n, ho, wo)
        dxpad = np.zeros((c, n, h + 2 * p, w + 2 * p), dtype=dout_t.dtype)
        for i in range(k):
            for j in range(k):
                _offset_view(dxpad, i, j, s, ho, wo)[...] += dcols[i, j]
        return dxpad


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
        return (c, _out_size(name, h, self.size, self.stride, 0, input_shape), _out_size(name, w, self.size, self.stride, 0, input_shape))

    def _tiles(self, shape: tuple) -> bool:
        """Whether the windows tile the input exactly (stride = size, H and W multiples of it)."""
        k = self.size
        return self.stride == k and shape[2] % k == 0 and shape[3] % k == 0


@dataclass
class _MaxPoolCache:
    argmax: Optional[np.ndarray]  # (N, C, Ho, Wo) int8/int32: offset i·k + j of each window's (first) maximum
    x_shape: tuple
    pairs: Optional[tuple] = None  # 2×2 tiling instead of argmax: (right (N, C, H, Wo), lower (N, C, Ho, Wo)) bool


def _max_of_pairs(a: np.ndarray, b: np.ndarray, out: np.ndarray, second: Optional[np.ndarray]) -> None:
    """out = max(a, b); second = b > a (strict: a tie goes to a, the earlier one in raster order)."""
    if second is not None:
        np.greater(b, a, out=second)
    np.maximum(a, b, out=out)


@LAYERS.register("maxpool2d")
class MaxPool2D(_Pool):
    """out[n, c, h, w] = max over the k×k window at (s·h, s·w): x (N, C, H, W), out (N, C, Ho, Wo); dx routes dout to each argmax."""

    fresh_output = True  # a new array each forward; the cache keeps the argmax, not the output
    scratch_dx = True  # dx is a reused buffer that backward only writes

    def __init__(self, *, size: int = 2, stride: Optional[int] = None):
        super().__init__(size=size, stride=stride)
        self._cache: Optional[_MaxPoolCache] = None
        self._dx = Scratch()
        self._row_max, self._right, self._lower, self._drow = (Scratch() for _ in range(4))

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.size == 2 and self._tiles(x.shape):
            return self._forward_2x2(x)
        # k² elementwise passes over strided views: much faster than argmax over a short last axis
        k, s = self.size, self.stride
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        out = _offset_view(x, 0, 0, s, ho, wo).copy()
        if not self.caching:
            for offset in range(1, k * k):
                np.maximum(out, _offset_view(x, offset // k, offset % k, s, ho, wo), out=out)
            self._cache = None
            return out
        argmax = np.zeros(out.shape, dtype=np.int8 if k * k < 128 else np.int32)
        for offset in range(1, k * k):
            view = _offset_view(x, offset // k, offset % k, s, ho, wo)
            bigger = view > out  # strict: ties keep the first maximum, like argmax
            np.maximum(out, view, out=out)
            argmax += bigger * (argmax.dtype.type(offset) - argmax)
        self._cache = _MaxPoolCache(argmax, x.shape)
        return out

    def _forward_2x2(self, x: np.ndarray) -> np.ndarray:
        """2×2 windows that tile x, as two pairwise maxima: across columns (N, C, H, Wo), then across
        rows (N, C, Ho, Wo). Ties go to the earlier entry in raster order, as in the k² loop, and the
        two "second one won" masks replace the argmax (fewer and cheaper passes: 1.9 -> 1.75 ms for
        forward + backward on (64, 16, 28, 28))."""
        n, c, h, w = x.shape
        row_max = self._row_max.get((n, c, h, w // 2), x.dtype)
        out = np.empty((n, c, h // 2, w // 2), dtype=x.dtype)
        right = self._right.get(row_max.shape, np.bool_) if self.caching else None
        lower = self._lower.get(out.shape, np.bool_) if self.caching else None
        _max_of_pairs(x[..., 0::2], x[..., 1::2], row_max, right)
        _max_of_pairs(row_max[:, :, 0::2], row_max[:, :, 1::2], out, lower)
        self._cache = _MaxPoolCache(None, x.shape, (right, lower)) if self.caching else None
        return out

    def _backward_2x2(self, dout: np.ndarray, cache: _MaxPoolCache) -> np.ndarray:
        """dout to the winning row of each column pair, then to the winning column: dx (N, C, H, W)."""
        right, lower = cache.pairs
        d_row = self._drow.get(right.shape, dout.dtype)  # (N, C, H, Wo)
        np.multiply(dout, lower, out=d_row[:, :, 1::2])
        np.subtract(dout, d_row[:, :, 1::2], out=d_row[:, :, 0::2])  # exact: dout - dout or dout - 0
        dx = self._dx.get(cache.x_shape, dout.dtype)
        np.multiply(d_row, right, out=dx[..., 1::2])
        np.subtract(d_row, dx[..., 1::2], out=dx[..., 0::2])
        return dx

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        if cache.pairs is not None:
            return self._backward_2x2(dout, cache)
        k, s = self.size, self.stride
        ho, wo = dout.shape[2:]
        dx = self._dx.get(cache.x_shape, dout.dtype)
        picked = np.empty(dout.shape, dtype=bool)
        if self._tiles(cache.x_shape):  # every entry of dx is in exactly one window: write, no zero fill
            for offset in range(k * k):
                np.equal(cache.argmax, offset, out=picked)
                np.multiply(dout, picked, out=_offset_view(dx, offset // k, offset % k, s, ho, wo))
            return dx
        dx.fill(0)
        routed = np.empty_like(dout)
        for offset in range(k * k):
            np.equal(cache.argmax, offset, out=picked)
            np.multiply(dout, picked, out=routed)
            _offset_view(dx, offset // k, offset % k, s, ho, wo)[...] += routed
        return dx

    def kink_state(self) -> Optional[np.ndarray]:
        """Each window's argmax offset i·k + j (a new array)."""
        cache = self._cache
        if cache is None:
            return None
        if cache.pairs is None:
            return cache.argmax
        right, lower = cache.pairs
        column = np.where(lower, right[:, :, 1::2], right[:, :, 0::2])
        return (2 * lower + column).astype(np.int8)


@LAYERS.register("avgpool2d")
class AvgPool2D(_Pool):
    """out[n, c, h, w] = mean over the k×k window at (s·h, s·w): x (N, C, H, W), out (N, C, Ho, Wo); dx spreads dout / k²."""

    fresh_output = True  # a new array each forward; nothing but the input shape is cached

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
        if self._tiles(self._x_shape):
            dx = np.empty(self._x_shape, dtype=dout.dtype)
            for offset in range(k * k):
                _offset_view(dx, offset // k, offset % k, s, ho, wo)[...] = share
            return dx
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        for offset in range(k * k):
            _offset_view(dx, offset // k, offset % k, s, ho, wo)[...] += share
        return dx
