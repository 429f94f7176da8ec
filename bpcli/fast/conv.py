"""The fast twin of conv2d on (N, C, H, W) arrays whose memory is channel-last (N, H, W, C)
wherever it can be: forward returns the GEMM's product as is, an NCHW view of NHWC memory
(`layout.py`), which relu and the pools keep, so the next conv reads channel-last input without
a transposing copy and no layer converts layouts per step.

forward: cols (N·Ho·Wo, k·k·C) are one window-view copy of the padded input laid out
(N, Hp, Wp, C), and the product is ONE large GEMM against W as (k·k·C, F), the fastest of the
layouts measured (many small per-example GEMMs each cost a BLAS thread wake-up). A single
channel keeps cols offset-major (k·k, N·Ho·Wo) instead, where whole planes copy, and returns a
channel-major (C, N, H, W) product. backward: dW = colsᵀ @ dout with dout as (N·Ho·Wo, F) rows,
a view when it arrives channel-last; for stride 1 dx is computed on the padded NHWC grid
(N·Hp·Wp rows), where kernel offset (i, j) is a shift of i·Wp + j rows, so col2im becomes k²
GEMMs adding into shifted row ranges (beta = 1) and dx is a view of the grid's interior.
Scratch buffers are reused while shapes stay. Where the whole batch's cols would be large
(WHOLE_COLS_MAX_BYTES), they are built a few examples at a time, in forward and again in backward,
and only the padded input is kept between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bpcli.host.blas import gemm
from bpcli.fast.buffers import Scratch, grad_buffer
from bpcli.fast.layer import FastLayer, twin_of
from bpcli.fast.layout import NHWC, offset_view, rows_view, square
from bpcli.nn.layers._common import no_cache
from bpcli.nn.layers.conv import Conv2D


def _nhwc_offset_view(x: np.ndarray, i: int, j: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """x[:, i + s·a, j + s·b, :] for a < ho, b < wo: the entries of an (N, H, W, C) array that kernel offset (i, j) sees."""
    return x[:, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride, :]


def _chunk_examples(n: int, bytes_per_example: int) -> int:
    """Examples per chunk of im2col columns: as many as fit in COLS_CHUNK_BYTES, at least 1, at most n."""
    return max(1, min(n, COLS_CHUNK_BYTES // bytes_per_example))


def _zeroed(scratch: Scratch, shape: tuple, dtype: Any) -> np.ndarray:
    """scratch's buffer, zero-filled when it is (re)allocated: callers only ever rewrite its interior."""
    fresh = scratch.array is None or scratch.array.shape != shape or scratch.array.dtype != dtype
    a = scratch.get(shape, dtype)
    if fresh:
        a.fill(0)
    return a


# forward as shifted GEMMs (`FastConv2D._shifts_forward`) from this many input channels, up to this many filters
SHIFTS_MIN_CHANNELS = 16
SHIFTS_MAX_FILTERS = 32
# im2col columns larger than this for the whole batch are built a few examples (at most
# COLS_CHUNK_BYTES) at a time in forward and again in backward instead of kept between them:
# conv 64 -> 64 on 16×16 images at batch 64 holds 36 MB of them, conv 32 -> 32 on 32×32 72 MB,
# and the chunks, which stay in the cache, made forward + backward no slower (one thread:
# 54.0 -> 49.5 ms for the 64 -> 64 conv, 23.9 -> 19.6 ms for the CS231n 7×7 conv at batch 50)
WHOLE_COLS_MAX_BYTES = 16 << 20
COLS_CHUNK_BYTES = 4 << 20


@dataclass
class _ConvCache:
    cols: Optional[np.ndarray]  # (N·Ho·Wo, k·k·C) im2col of the padded input; rows (n, h, w), columns (i, j, c); a transposed view when C = 1; None: built from the padded input in backward
    x_shape: tuple  # (N, C, H, W)
    out_hw: tuple  # (Ho, Wo)
    xpad: Optional[np.ndarray] = None  # the padded input (N, Hp, Wp, C) cols are built from when cols is None


@twin_of("conv2d")
class FastConv2D(FastLayer, Conv2D):
    """Conv2D as one NHWC GEMM forward and k² shifted GEMMs backward in reused buffers, channel-last memory: x (N, C, H, W), W (F, C, k, k), out (N, F, Ho, Wo)."""

    fresh_output = True  # a new array each forward; the cache keeps cols, not the output
    scratch_dx = True  # dx is a reused buffer that backward only writes

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._square = square(self.kernel, self.stride, self.padding)
        self._cache: Optional[_ConvCache] = None
        self._xpad, self._cols, self._dout_t, self._dout_grid, self._dxpad = (Scratch() for _ in range(5))
        self._dW, self._dW_part = Scratch(), Scratch()

    def _w_kkc_f(self) -> np.ndarray:
        """W as (k·k·C, F): rows (i, j, c) like cols' columns."""
        W = self.params["W"]
        return W.transpose(2, 3, 1, 0).reshape(-1, W.shape[0])

    def _pad(self, x: np.ndarray) -> np.ndarray:
        """x padded and channel-last (N, Hp, Wp, C) in a reused buffer whose border stays zero."""
        p = self.padding
        n, c, h, w = x.shape
        xpad = _zeroed(self._xpad, (n, h + 2 * p, w + 2 * p, c), x.dtype)
        xpad[:, p : p + h, p : p + w, :] = x.transpose(NHWC)  # row copies when x is channel-last already
        return xpad

    def _im2col(self, xpad: np.ndarray) -> tuple[np.ndarray, int, int]:
        """cols (N·Ho·Wo, k·k·C) of the padded input over a reused buffer: rows (n, h, w), columns (i, j, c)."""
        k, s = self.kernel, self.stride
        n, hp, wp, c = xpad.shape
        ho, wo = (hp - k) // s + 1, (wp - k) // s + 1
        if c == 1:
            # Stored offset-major (k·k, N·Ho·Wo) and returned as its transposed view: k² copies of whole
            # planes, and the forward GEMM then yields (F, N·Ho·Wo), returned as a channel-major view.
            planes = self._cols.get((k, k, n, ho, wo), xpad.dtype)
            for i in range(k):
                for j in range(k):
                    planes[i, j] = _nhwc_offset_view(xpad, i, j, s, ho, wo)[..., 0]
            return planes.reshape(k * k, n * ho * wo).T, ho, wo
        cols = self._cols.get((n, ho, wo, k, k, c), xpad.dtype)
        return self._windows_into(xpad, cols), ho, wo

    def _windows_into(self, xpad: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """cols (n, Ho, Wo, k, k, C) = the k×k windows of xpad (n, Hp, Wp, C), C > 1; returned as (n·Ho·Wo, k·k·C)."""
        k, s = self.kernel, self.stride
        windows = sliding_window_view(xpad, (k, k), axis=(1, 2))[:, ::s, ::s]  # (n, Ho, Wo, C, k, k)
        np.copyto(cols, windows.transpose(0, 1, 2, 4, 5, 3))  # one copy: 4x faster than k² copies of C-float runs
        return cols.reshape(-1, k * k * xpad.shape[3])

    def _shifts_forward(self, c: int) -> bool:
        """Whether forward runs as k² row-shifted GEMMs on the padded grid instead of one im2col GEMM:
        for stride 1 with many input channels and few filters, where the im2col product (N·Ho·Wo, k·k·C)
        @ (k·k·C, F) runs slowly for its narrow F (conv 32 -> 32, 32x32, batch 64, one thread: 16.2 ms
        against 20.8 for the GEMM alone plus 4.4 for im2col, which backward then builds for dW)."""
        return self.stride == 1 and c >= SHIFTS_MIN_CHANNELS and self.filters <= SHIFTS_MAX_FILTERS

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self._square:
            return Conv2D.forward(self, x)
        xpad = self._pad(x)
        if self._shifts_forward(x.shape[1]):
            return self._forward_shifted(xpad, x.shape)
        if x.shape[1] > 1 and self._cols_bytes(xpad) > WHOLE_COLS_MAX_BYTES:
            return self._forward_in_chunks(xpad, x.shape)
        cols, ho, wo = self._im2col(xpad)
        f, n = self.filters, x.shape[0]
        bias = self.params["b"] if self.bias else None
        if x.shape[1] == 1:  # cols is a view of (k·k, N·Ho·Wo): the product comes out channel-major
            prod = np.empty((f, cols.shape[0]), dtype=cols.dtype)
            np.matmul(self._w_kkc_f().T, cols.T, out=prod)
            if bias is not None:
                prod += bias[:, None]
            out = prod.reshape(f, n, ho, wo).transpose(1, 0, 2, 3)
        else:
            prod = np.empty((cols.shape[0], f), dtype=cols.dtype)
            np.matmul(cols, self._w_kkc_f(), out=prod)
            if bias is not None:
                prod += bias
            out = prod.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)  # channel-last memory, no copy
        self._cache = _ConvCache(cols, x.shape, (ho, wo)) if self.training else None
        return out

    def _cols_bytes(self, xpad: np.ndarray) -> int:
        """The size of the whole batch's im2col columns (N·Ho·Wo, k·k·C)."""
        k, s = self.kernel, self.stride
        n, hp, wp, c = xpad.shape
        return n * ((hp - k) // s + 1) * ((wp - k) // s + 1) * k * k * c * xpad.dtype.itemsize

    def _forward_in_chunks(self, xpad: np.ndarray, x_shape: tuple) -> np.ndarray:
        """out rows (N·Ho·Wo, F) = cols @ W, with cols built a few examples at a time in one reused
        buffer; backward builds them again for dW (`_cols_chunks`): only the padded input is kept."""
        k, s, f = self.kernel, self.stride, self.filters
        n, hp, wp, c = xpad.shape
        ho, wo = (hp - k) // s + 1, (wp - k) // s + 1
        step = _chunk_examples(n, ho * wo * k * k * c * xpad.dtype.itemsize)
        buf = self._cols.get((step, ho, wo, k, k, c), xpad.dtype)
        prod = np.empty((n * ho * wo, f), dtype=xpad.dtype)
        w = self._w_kkc_f()
        for start in range(0, n, step):
            stop = min(start + step, n)
            np.matmul(self._windows_into(xpad[start:stop], buf[: stop - start]), w, out=prod[start * ho * wo : stop * ho * wo])
        if self.bias:
            prod += self.params["b"]
        self._cache = _ConvCache(None, x_shape, (ho, wo), xpad) if self.training else None
        return prod.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)

    def _forward_shifted(self, xpad: np.ndarray, x_shape: tuple) -> np.ndarray:
        """out on the padded grid (N·Hp·Wp, F) = Σ over kernel offsets (i, j) of xpad's rows shifted up by
        i·Wp + j @ W[:, :, i, j]ᵀ (C, F), added as the GEMMs go (beta = 1); the output is the NCHW view
        of the grid's [:Ho, :Wo] corner (rows past it sum across plane edges and are never read)."""
        n, hp, wp, c = xpad.shape
        k, f = self.kernel, self.filters
        ho, wo = hp - k + 1, wp - k + 1
        m = n * hp * wp
        rows = xpad.reshape(m, c)
        w_blocks = np.ascontiguousarray(self.params["W"].transpose(2, 3, 1, 0))  # (k, k, C, F)
        grid = np.empty((m, f), dtype=xpad.dtype)  # fresh: the output is a view of it
        for i in range(k):
            for j in range(k):
                shift = i * wp + j
                gemm(rows[shift:], w_blocks[i, j], grid[: m - shift], 1.0, 1.0 if shift else 0.0)
        out = grid.reshape(n, hp, wp, f)[:, :ho, :wo, :]
        if self.bias:
            out += self.params["b"]
        self._cache = _ConvCache(None, x_shape, (ho, wo), xpad) if self.training else None  # cols built in backward
        return out.transpose(0, 3, 1, 2)

    def _dout_rows(self, dout: np.ndarray) -> np.ndarray:
        """dout as (N·Ho·Wo, F) rows (n, h, w) like cols' rows: a view when its memory is channel-last or channel-major."""
        rows = rows_view(dout)
        if rows is None:
            n, f, ho, wo = dout.shape
            buf = self._dout_t.get((n, ho, wo, f), dout.dtype)
            np.copyto(buf, dout.transpose(NHWC))
            rows = buf.reshape(-1, f)
        return rows

    def backward(self, dout: np.ndarray) -> Optional[np.ndarray]:
        if not self._square:
            return Conv2D.backward(self, dout)
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        W = self.params["W"]
        f, c, k, _ = W.shape
        rows = self._dout_rows(dout)
        # colsᵀ @ dout (k·k·C, F) for a few channels; doutᵀ @ cols (F, k·k·C) from 8 channels,
        # 5-15% faster there but slower for a few columns (C = 3: 2.98 vs 2.40 ms)
        transposed = c < 8
        dW = self._dW.get((k, k, c, f) if transposed else (f, k, k, c), dout.dtype)
        dW2 = dW.reshape(-1, f) if transposed else dW.reshape(f, -1)
        for i, (cols, rows_part) in enumerate(self._cols_chunks(cache, rows)):
            target = self._dW_part.get(dW2.shape, dW2.dtype) if i else dW2
            if transposed:
                np.matmul(cols.T, rows_part, out=target)
            else:
                np.matmul(rows_part.T, cols, out=target)
            if i:
                dW2 += target
        np.copyto(grad_buffer(self, "W"), dW.transpose(3, 2, 0, 1) if transposed else dW.transpose(0, 3, 1, 2))
        if self.bias:
            np.add.reduce(rows, axis=0, out=grad_buffer(self, "b"))
        if not self.needs_input_grad:
            return None
        if self.stride == 1:
            return self._dx_stride1(dout, cache)
        return self._dx_strided(rows, cache)

    def _cols_chunks(self, cache: _ConvCache, rows: np.ndarray):
        """(cols, dout rows) pairs covering the batch: the cached cols whole, or, where forward kept
        only the padded input, cols built for a few examples at a time (`_chunk_examples`) in one
        reused buffer with the matching rows of dout."""
        if cache.cols is not None:
            yield cache.cols, rows
            return
        xpad, k = cache.xpad, self.kernel
        n, c = xpad.shape[0], xpad.shape[3]
        ho, wo = cache.out_hw
        step = _chunk_examples(n, ho * wo * k * k * c * xpad.dtype.itemsize)
        buf = self._cols.get((step, ho, wo, k, k, c), xpad.dtype)
        for start in range(0, n, step):
            stop = min(start + step, n)
            yield self._windows_into(xpad[start:stop], buf[: stop - start]), rows[start * ho * wo : stop * ho * wo]

    def _dx_stride1(self, dout: np.ndarray, cache: _ConvCache) -> np.ndarray:
        """d(xpad) (N·Hp·Wp, C) = Σ over kernel offsets (i, j) of dout @ W[:, :, i, j], with dout placed
        at the top-left of each (Hp, Wp) plane of a channel-last grid and the product shifted down
        by i·Wp + j rows: k² GEMMs that add into d(xpad) as they go (beta = 1), no (N·Ho·Wo, k·k·C)
        intermediate. Returns dx as an NCHW view of d(xpad)'s interior (channel-last memory); rows
        (N·Hp·Wp, F) @ (F, C) measured 16.2 ms against 22.7 for the channel-major (C, F) @ (F, N·Hp·Wp)
        on conv 32 -> 32, 32x32, batch 64, one thread."""
        n, c, h, w = cache.x_shape
        ho, wo = cache.out_hw
        k, p = self.kernel, self.padding
        hp, wp = h + 2 * p, w + 2 * p
        f = dout.shape[1]
        m = n * hp * wp
        grid = _zeroed(self._dout_grid, (n, hp, wp, f), dout.dtype)  # outside [:ho, :wo] stays zero
        grid[:, :ho, :wo, :] = dout.transpose(NHWC)
        grid = grid.reshape(m, f)
        w_blocks = np.ascontiguousarray(self.params["W"].transpose(2, 3, 0, 1))  # (k, k, F, C)
        dxpad = self._dxpad.get((m, c), dout.dtype)
        # Offset (i, j) moves grid row q to q + i·Wp + j. Rows that cross into the next plane
        # come from outputs outside [:Ho, :Wo], where the grid is zero: one shift is exact.
        for i in range(k):
            for j in range(k):
                shift = i * wp + j
                gemm(grid[: m - shift], w_blocks[i, j], dxpad[shift:], 1.0, 1.0 if shift else 0.0)
        return dxpad.reshape(n, hp, wp, c)[:, p : p + h, p : p + w, :].transpose(0, 3, 1, 2)

    def _dx_strided(self, rows: np.ndarray, cache: _ConvCache) -> np.ndarray:
        """dx for stride > 1: dcols = W @ doutᵀ (k·k·C, N·Ho·Wo), then one strided add per kernel offset
        into a channel-major d(xpad) (C, N, Hp, Wp); returns the NCHW view of its interior."""
        n, c, h, w = cache.x_shape
        ho, wo = cache.out_hw
        k, s, p = self.kernel, self.stride, self.padding
        dcols = (self._w_kkc_f() @ rows.T).reshape(k, k, c, n, ho, wo)
        dxpad = np.zeros((c, n, h + 2 * p, w + 2 * p), dtype=rows.dtype)
        for i in range(k):
            for j in range(k):
                offset_view(dxpad, i, j, s, ho, wo)[...] += dcols[i, j]
        return dxpad[:, :, p : p + h, p : p + w].transpose(1, 0, 2, 3)
