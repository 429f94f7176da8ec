"""Fast twins of the spatial layers (conv2d, maxpool2d, avgpool2d) on NCHW arrays.

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
from typing import Any, Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bpcli.host.blas import gemm
from bpcli.fast.buffers import Scratch, grad_buffer
from bpcli.fast.layer import FastLayer, twin_of
from bpcli.nn.layers._common import no_cache
from bpcli.nn.layers.conv import AvgPool2D, Conv2D, MaxPool2D


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


def square(*options: Any) -> bool:
    """Whether every window option is one number: the case these kernels handle. Non-square
    kernels, strides or padding are declined to the reference layer's code (same results)."""
    return all(isinstance(v, int) for v in options)


@twin_of("conv2d")
class FastConv2D(FastLayer, Conv2D):
    """Conv2D as one NHWC GEMM forward and k² shifted GEMMs backward in reused buffers: x (N, C, H, W), W (F, C, k, k), out (N, F, Ho, Wo)."""

    fresh_output = True  # a new array each forward; the cache keeps cols, not the output
    scratch_dx = True  # dx is a reused buffer that backward only writes

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._square = square(self.kernel, self.stride, self.padding)
        self._cache: Optional[_ConvCache] = None
        self._xpad, self._cols, self._prod, self._dout_t, self._dout_grid, self._dxpad, self._dx = (
            Scratch() for _ in range(7)
        )
        self._dW = Scratch()

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
        if not self._square:
            return Conv2D.forward(self, x)
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
        self._cache = _ConvCache(cols, x.shape, (ho, wo)) if self.training else None
        return out.reshape(n, f, ho, wo)

    def backward(self, dout: np.ndarray) -> Optional[np.ndarray]:
        if not self._square:
            return Conv2D.backward(self, dout)
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


def _tiles(size: int, stride: int, shape: tuple) -> bool:
    """Whether size×size windows every `stride` tile an (N, C, H, W) input exactly (stride = size, H and W multiples of it)."""
    return stride == size and shape[2] % size == 0 and shape[3] % size == 0


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


@twin_of("maxpool2d")
class FastMaxPool2D(FastLayer, MaxPool2D):
    """MaxPool2D as k² elementwise passes (two pairwise maxima for 2×2 tiles), dx in a reused buffer: x (N, C, H, W), out (N, C, Ho, Wo)."""

    fresh_output = True  # a new array each forward; the cache keeps the argmax, not the output
    scratch_dx = True  # dx is a reused buffer that backward only writes

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._square = square(self.size, self.stride)
        self._cache: Optional[_MaxPoolCache] = None
        self._dx = Scratch()
        self._row_max, self._right, self._lower, self._drow = (Scratch() for _ in range(4))

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self._square:
            return MaxPool2D.forward(self, x)
        if self.size == 2 and _tiles(self.size, self.stride, x.shape):
            return self._forward_2x2(x)
        # k² elementwise passes over strided views: much faster than argmax over a short last axis
        k, s = self.size, self.stride
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        out = _offset_view(x, 0, 0, s, ho, wo).copy()
        if not self.training:
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
        right = self._right.get(row_max.shape, np.bool_) if self.training else None
        lower = self._lower.get(out.shape, np.bool_) if self.training else None
        _max_of_pairs(x[..., 0::2], x[..., 1::2], row_max, right)
        _max_of_pairs(row_max[:, :, 0::2], row_max[:, :, 1::2], out, lower)
        self._cache = _MaxPoolCache(None, x.shape, (right, lower)) if self.training else None
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
        if not self._square:
            return MaxPool2D.backward(self, dout)
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        if cache.pairs is not None:
            return self._backward_2x2(dout, cache)
        k, s = self.size, self.stride
        ho, wo = dout.shape[2:]
        dx = self._dx.get(cache.x_shape, dout.dtype)
        picked = np.empty(dout.shape, dtype=bool)
        if _tiles(self.size, self.stride, cache.x_shape):  # every entry of dx is in exactly one window: write, no zero fill
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
        if not self._square:
            return MaxPool2D.kink_state(self)
        cache = self._cache
        if cache is None:
            return None
        if cache.pairs is None:
            return cache.argmax
        right, lower = cache.pairs
        column = np.where(lower, right[:, :, 1::2], right[:, :, 0::2])
        return (2 * lower + column).astype(np.int8)


@twin_of("avgpool2d")
class FastAvgPool2D(FastLayer, AvgPool2D):
    """AvgPool2D as k² passes over strided views, no zero fill when windows tile: x (N, C, H, W), out (N, C, Ho, Wo)."""

    fresh_output = True  # a new array each forward; nothing but the input shape is cached

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not square(self.size, self.stride):
            return AvgPool2D.forward(self, x)
        k, s = self.size, self.stride
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        out = _offset_view(x, 0, 0, s, ho, wo).copy()
        for offset in range(1, k * k):
            out += _offset_view(x, offset // k, offset % k, s, ho, wo)
        out *= out.dtype.type(1.0 / (k * k))
        self._x_shape = x.shape if self.training else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if not square(self.size, self.stride):
            return AvgPool2D.backward(self, dout)
        if self._x_shape is None:
            raise no_cache(self)
        k, s = self.size, self.stride
        ho, wo = dout.shape[2:]
        share = dout * dout.dtype.type(1.0 / (k * k))
        if _tiles(self.size, self.stride, self._x_shape):
            dx = np.empty(self._x_shape, dtype=dout.dtype)
            for offset in range(k * k):
                _offset_view(dx, offset // k, offset % k, s, ho, wo)[...] = share
            return dx
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        for offset in range(k * k):
            _offset_view(dx, offset // k, offset % k, s, ho, wo)[...] += share
        return dx
