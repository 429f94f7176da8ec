"""The fast twin of conv2d on (N, C, H, W) arrays whose memory is channel-last (N, H, W, C)
wherever it can be: forward returns the GEMM's product as is, an NCHW view of NHWC memory
(`layout.py`), which relu and the pools keep, so the next conv reads channel-last input without
a transposing copy and no layer converts layouts per step.

forward: cols (N·Ho·Wo, k·k·C) are window-view copies of the padded input laid out
(N, Hp, Wp, C), and the product is cols @ W as (k·k·C, F) onto the bias (beta = 1). From 2
channels and 64 columns k·k·C with BLAS on one thread, cols are built a few images at a time
(about CHUNK_BYTES) in one reused buffer and each chunk's GEMM runs while it is in cache; backward
builds the chunks again for dW, which is faster than writing and reading back the whole cols.
Otherwise one whole cols is kept for backward. A single channel keeps cols offset-major (k·k,
N·Ho·Wo) instead, where whole planes copy, and returns a channel-major (C, N, H, W) product. Stride 1 with 16 channels or more and
at most 32 filters runs as k² row-shifted GEMMs on the padded grid instead. backward: dW =
doutᵀ @ cols (chunk by chunk where forward was) with dout as (N·Ho·Wo, F) rows, a view when it
arrives channel-last; db = ones @ dout rows; for stride 1 dx is computed on the padded NHWC grid
(N·Hp·Wp rows), where kernel offset (i, j) is a shift of i·Wp + j rows, so col2im becomes k²
GEMMs adding into shifted row ranges (beta = 1) and dx is a view of the grid's interior.

Memory: what backward reads is kept per layer (the padded input, or the whole cols); what one
call needs only while it runs (a chunk of cols, dout as rows or on the padded grid, dW) comes
from the graph's `temporaries`, and dx from its `dx_buffers` (`workspace.py`), so a deep net
holds those once, not once per layer (conv4's step 152 -> 73 MB, torch 95).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bpcli.host import openblas
from bpcli.host.blas import gemm
from bpcli.fast.buffers import Scratch, grad_buffer
from bpcli.fast.layer import FastLayer, twin_of
from bpcli.fast.layout import NHWC, offset_view, rows_view, square
from bpcli.nn.layers._common import no_cache
from bpcli.nn.layers.conv import Conv2D


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


# cols built this many bytes at a time where forward keeps no whole cols (`FastConv2D._cols_by_chunks`),
# from this many columns k·k·C and input channels, when BLAS runs on one thread. On more, a chunk's
# copy between two GEMMs lets OpenBLAS's idle workers fall asleep, and waking them for every chunk's
# GEMM cost more than the cache saved on a quiet machine (conv4 step 155-161 ms against 115-120
# with whole cols; on a busy one the chunks won, 96 against 104): there, whole cols.
CHUNK_BYTES = 5 << 19
CHUNK_MIN_COLUMNS = 64
CHUNK_MIN_CHANNELS = 2
# forward as shifted GEMMs (`FastConv2D._shifts_forward`) from this many input channels, up to this many filters
SHIFTS_MIN_CHANNELS = 16
SHIFTS_MAX_FILTERS = 32


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
        self._xpad, self._cols, self._ones = Scratch(), Scratch(), Scratch()  # kept: padded input, whole cols, ones

    def _ones_row(self, m: int, dtype: Any) -> np.ndarray:
        """(1, m) ones in a reused buffer, for sums over rows as products."""
        fresh = self._ones.array is None or self._ones.array.shape != (1, m) or self._ones.array.dtype != dtype
        ones = self._ones.get((1, m), dtype)
        if fresh:
            ones.fill(1)
        return ones

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
        windows = sliding_window_view(xpad, (k, k), axis=(1, 2))[:, ::s, ::s]  # (N, Ho, Wo, C, k, k)
        np.copyto(cols, windows.transpose(0, 1, 2, 4, 5, 3))  # one copy: 4x faster than k² copies of C-float runs
        return cols.reshape(n * ho * wo, k * k * c), ho, wo

    def _shifts_forward(self, c: int) -> bool:
        """Whether forward runs as k² row-shifted GEMMs on the padded grid instead of one im2col GEMM:
        for stride 1 with many input channels and few filters, where the im2col product (N·Ho·Wo, k·k·C)
        @ (k·k·C, F) runs slowly for its narrow F (conv 32 -> 32, 32x32, batch 64, one thread: 16.2 ms
        against 20.8 for the GEMM alone plus 4.4 for im2col, which backward then builds for dW)."""
        return self.stride == 1 and c >= SHIFTS_MIN_CHANNELS and self.filters <= SHIFTS_MAX_FILTERS

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self._square:
            return Conv2D.forward(self, x)
        self.temporaries.release()
        self.dx_buffers.let_go()
        xpad = self._pad(x)
        if self._shifts_forward(x.shape[1]):
            return self._forward_shifted(xpad, x.shape)
        if self._chunked(x.shape[1]):
            return self._forward_by_chunks(xpad, x.shape)
        cols, ho, wo = self._im2col(xpad)
        f, n = self.filters, x.shape[0]
        # The bias is written first and the GEMM adds the product to it (beta = 1): OpenBLAS passes
        # over its output before a beta = 0 product anyway, so the bias costs no pass of its own.
        beta = 1.0 if self.bias else 0.0
        if x.shape[1] == 1:  # cols is a view of (k·k, N·Ho·Wo): the product comes out channel-major
            prod = np.empty((f, cols.shape[0]), dtype=cols.dtype)
            if self.bias:
                np.copyto(prod, self.params["b"][:, None])
            gemm(self._w_kkc_f().T, cols.T, prod, 1.0, beta)
            out = prod.reshape(f, n, ho, wo).transpose(1, 0, 2, 3)
        else:
            prod = np.empty((cols.shape[0], f), dtype=cols.dtype)
            if self.bias:
                np.copyto(prod, self.params["b"])
            gemm(cols, self._w_kkc_f(), prod, 1.0, beta)
            out = prod.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)  # channel-last memory, no copy
        self._cache = _ConvCache(cols, x.shape, (ho, wo)) if self.training else None
        return out

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
        if self.bias:  # the GEMMs add onto it: no pass of its own over the output (see forward)
            np.copyto(grid, self.params["b"])
        for i in range(k):
            for j in range(k):
                shift = i * wp + j
                gemm(rows[shift:], w_blocks[i, j], grid[: m - shift], 1.0, 1.0 if shift or self.bias else 0.0)
        out = grid.reshape(n, hp, wp, f)[:, :ho, :wo, :]
        self._cache = _ConvCache(None, x_shape, (ho, wo), xpad) if self.training else None  # cols built in backward
        return out.transpose(0, 3, 1, 2)

    def _dout_rows(self, dout: np.ndarray) -> np.ndarray:
        """dout as (N·Ho·Wo, F) rows (n, h, w) like cols' rows: a view when its memory is channel-last or channel-major."""
        rows = rows_view(dout)
        if rows is None:
            n, f, ho, wo = dout.shape
            buf = self.temporaries.take((n, ho, wo, f), dout.dtype)
            np.copyto(buf, dout.transpose(NHWC))
            rows = buf.reshape(-1, f)
        return rows

    def backward(self, dout: np.ndarray) -> Optional[np.ndarray]:
        if not self._square:
            return Conv2D.backward(self, dout)
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        self.temporaries.release()
        rows = self._weight_grads(dout, cache)
        if not self.needs_input_grad:
            return None
        if self.stride != 1:
            return self._dx_strided(rows, cache)
        del rows  # read: what dx takes below may reuse its memory
        self.temporaries.release()
        return self._dx_stride1(dout, cache)

    def _weight_grads(self, dout: np.ndarray, cache: _ConvCache) -> np.ndarray:
        """grads W and b; returns dout as (N·Ho·Wo, F) rows."""
        W = self.params["W"]
        f, c, k, _ = W.shape
        rows = self._dout_rows(dout)
        # doutᵀ @ cols (F, k·k·C): 5-15% faster than colsᵀ @ dout, but slower for a few columns
        # (3x3 on C = 3, 27 columns: 3.2 vs 2.5 ms; 7x7 on C = 3, 147 columns: 9.4 vs 10.6 ms; one thread)
        if cache.cols is None:  # forward kept the padded input (shifted GEMMs, or cols by chunks)
            dW_f = self.temporaries.take((f, k, k, c), dout.dtype)
            self._dW_by_chunks(rows, cache.xpad, dW_f.reshape(f, -1))
            np.copyto(grad_buffer(self, "W"), dW_f.transpose(0, 3, 1, 2))
        elif c >= 8 or k * k * c >= 128:
            dW_f = self.temporaries.take((f, k, k, c), dout.dtype)
            np.matmul(rows.T, cache.cols, out=dW_f.reshape(f, -1))
            np.copyto(grad_buffer(self, "W"), dW_f.transpose(0, 3, 1, 2))
        else:
            dW_t = self.temporaries.take((k, k, c, f), dout.dtype)  # rows (i, j, c) like cols' columns
            np.matmul(cache.cols.T, rows, out=dW_t.reshape(-1, f))
            np.copyto(grad_buffer(self, "W"), dW_t.transpose(3, 2, 0, 1))
        if self.bias:  # db = ones @ dout rows, a BLAS product: 2-4x faster than np.add.reduce over the rows
            gemm(self._ones_row(rows.shape[0], rows.dtype), rows, grad_buffer(self, "b").reshape(1, f))
        return rows

    def _cols_by_chunks(self, xpad: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
        """(first row, end row, cols of those rows) over cols (N·Ho·Wo, k·k·C), built a few images at a
        time (about CHUNK_BYTES) in one reused buffer, so each chunk's GEMM reads it from cache; all
        at once when BLAS runs on more than one thread (see CHUNK_BYTES)."""
        k, s = self.kernel, self.stride
        n, hp, wp, c = xpad.shape
        ho, wo = (hp - k) // s + 1, (wp - k) // s + 1
        per_image = ho * wo * k * k * c * xpad.itemsize
        images = max(1, min(n, CHUNK_BYTES // per_image)) if openblas.threads() == 1 else n
        buf = self.temporaries.take((images, ho, wo, k, k, c), xpad.dtype)
        windows = sliding_window_view(xpad, (k, k), axis=(1, 2))[:, ::s, ::s]  # (N, Ho, Wo, C, k, k)
        for start in range(0, n, images):
            stop = min(n, start + images)
            part = buf[: stop - start]
            np.copyto(part, windows[start:stop].transpose(0, 1, 2, 4, 5, 3))
            yield start * ho * wo, stop * ho * wo, part.reshape(-1, k * k * c)

    def _dW_by_chunks(self, rows: np.ndarray, xpad: np.ndarray, dW: np.ndarray) -> None:
        """dW (F, k·k·C) = doutᵀ @ cols, one GEMM per chunk of cols added while it is in cache
        (beta = 1): conv 32 -> 32, 32x32, batch 64 took 18.5 ms against 24.7 for the whole
        (N·Ho·Wo, k·k·C) cols at once on one thread (14.6 against 16.8 on two)."""
        for first, end, cols in self._cols_by_chunks(xpad):
            gemm(rows[first:end].T, cols, dW, 1.0, 1.0 if first else 0.0)

    def _chunked(self, c: int) -> bool:
        """Whether forward runs chunk by chunk of cols (`_forward_by_chunks`) and backward rebuilds them:
        from CHUNK_MIN_CHANNELS channels and CHUNK_MIN_COLUMNS columns k·k·C, BLAS on one thread. On
        two, building cols twice cost more than the cache saved for few channels (7x7 on 3 channels,
        batch 50: step 24.6 ms against 22.6 with whole cols), while on one it is faster (30.0 against
        35.2; convnet3's split step 0.87-0.93x) and keeps no cols of the batch (step memory 53 -> 28 MB).
        A single channel keeps its offset-major whole cols (`_im2col`)."""
        return c >= CHUNK_MIN_CHANNELS and self.kernel * self.kernel * c >= CHUNK_MIN_COLUMNS and openblas.threads() == 1

    def _forward_by_chunks(self, xpad: np.ndarray, x_shape: tuple) -> np.ndarray:
        """out rows (N·Ho·Wo, F) = cols @ W as (k·k·C, F), one GEMM per chunk of cols onto the bias
        (beta = 1); backward builds the chunks again for dW. Forward and dW together, one thread:
        conv 64 -> 64 on 16x16, batch 64, 28.4 ms against 34.1 with whole cols kept for backward;
        7x7 on 3 channels, 32x32, batch 50: 17.4 against 21.2; and no cols buffer of the batch."""
        k, s = self.kernel, self.stride
        n, hp, wp, _ = xpad.shape
        ho, wo = (hp - k) // s + 1, (wp - k) // s + 1
        f = self.filters
        w = self._w_kkc_f()
        prod = np.empty((n * ho * wo, f), dtype=xpad.dtype)
        if self.bias:
            np.copyto(prod, self.params["b"])
        for first, end, cols in self._cols_by_chunks(xpad):
            gemm(cols, w, prod[first:end], 1.0, 1.0 if self.bias else 0.0)
        self._cache = _ConvCache(None, x_shape, (ho, wo), xpad) if self.training else None  # cols rebuilt in backward
        return prod.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)  # channel-last memory, no copy

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
        grid = self.temporaries.take((n, hp, wp, f), dout.dtype)
        grid[:, :ho, :wo, :] = dout.transpose(NHWC)
        grid[:, ho:, :, :] = 0  # zero outside [:ho, :wo]: the shifts below read across it
        grid[:, :ho, wo:, :] = 0
        grid = grid.reshape(m, f)
        w_blocks = np.ascontiguousarray(self.params["W"].transpose(2, 3, 0, 1))  # (k, k, F, C)
        dxpad = self.dx_buffers.get((m, c), dout.dtype, dout)
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
