"""Fast twins of the pooling layers (maxpool2d, avgpool2d) on (N, C, H, W) arrays in any memory layout.

Outputs, masks and dx are allocated in the memory order of the input (`layout.py`): a channel-last
conv output stays channel-last through the pool, and the elementwise passes run over contiguous
memory whatever the layout. No mask the size of the input is kept: 2×2 tiles keep two "second one
won" bool masks, other windows an int8 argmax of the output's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from bpcli.fast.buffers import Scratch
from bpcli.fast.layer import FastLayer, twin_of
from bpcli.fast.layout import empty_in_order, memory_order, offset_view, square
from bpcli.nn.layers._common import no_cache
from bpcli.nn.layers.conv import AvgPool2D, MaxPool2D


def _tiles(size: int, stride: int, shape: tuple) -> bool:
    """Whether size×size windows every `stride` tile an (N, C, H, W) input exactly (stride = size, H and W multiples of it)."""
    return stride == size and shape[2] % size == 0 and shape[3] % size == 0


@dataclass
class _MaxPoolCache:
    argmax: Optional[np.ndarray]  # (N, C, Ho, Wo) int8/int32: offset i·k + j of each window's (first) maximum
    x_shape: tuple
    x_order: tuple  # the input's memory order: dx is laid out the same way
    pairs: Optional[tuple] = None  # 2×2 tiling instead of argmax: (right (N, C, H, Wo), lower (N, C, Ho, Wo)) bool
    positive: Optional[np.ndarray] = None  # (N, C, Ho, Wo) bool, when relu is applied after the max: where the max was > 0


def _max_of_pairs(a: np.ndarray, b: np.ndarray, out: np.ndarray, second: Optional[np.ndarray]) -> None:
    """out = max(a, b); second = b > a (strict: a tie goes to a, the earlier one in raster order)."""
    if second is not None:
        np.greater(b, a, out=second)
    np.maximum(a, b, out=out)


@twin_of("maxpool2d")
class FastMaxPool2D(FastLayer, MaxPool2D):
    """MaxPool2D as k² elementwise passes (two pairwise maxima for 2×2 tiles) in the input's memory layout, dx in a reused buffer: x (N, C, H, W), out (N, C, Ho, Wo)."""

    fresh_output = True  # a new array each forward; the cache keeps the argmax, not the output
    scratch_dx = True  # dx is a reused buffer that backward only writes

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._square = square(self.size, self.stride)
        self._cache: Optional[_MaxPoolCache] = None
        self._right, self._lower, self._positive = Scratch(), Scratch(), Scratch()  # the masks backward reads
        # Set by `wiring.wire` when the layer before is a relu whose one reader is this pool: relu(max(x))
        # = max(relu(x)) (both monotone), so the pool applies relu to its output, k² times fewer entries,
        # and masks dout there; the relu passes x and dx through (FastReLU.left_to_pool).
        self.relu_after = False

    @property
    def can_apply_relu(self) -> bool:
        """Whether this pool's own kernels run (square windows), which is where relu_after is honoured."""
        return self._square

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self._square:
            return MaxPool2D.forward(self, x)
        self.temporaries.release()
        out = self._forward_square(x)
        if self.relu_after:
            positive = None
            if self.training:
                positive = np.greater(out, 0, out=self._positive.get(out.shape, np.bool_, memory_order(out)))
                self._cache.positive = positive
            np.maximum(out, 0, out=out)
        return out

    def _forward_square(self, x: np.ndarray) -> np.ndarray:
        if self.size == 2 and _tiles(self.size, self.stride, x.shape):
            return self._forward_2x2(x)
        # k² elementwise passes over strided views: much faster than argmax over a short last axis
        k, s = self.size, self.stride
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        out = offset_view(x, 0, 0, s, ho, wo).copy(order="K")
        if not self.training:
            for offset in range(1, k * k):
                np.maximum(out, offset_view(x, offset // k, offset % k, s, ho, wo), out=out)
            self._cache = None
            return out
        argmax = np.zeros_like(out, dtype=np.int8 if k * k < 128 else np.int32)
        for offset in range(1, k * k):
            view = offset_view(x, offset // k, offset % k, s, ho, wo)
            bigger = view > out  # strict: ties keep the first maximum, like argmax
            np.maximum(out, view, out=out)
            argmax += bigger * (argmax.dtype.type(offset) - argmax)
        self._cache = _MaxPoolCache(argmax, x.shape, memory_order(x))
        return out

    def _forward_2x2(self, x: np.ndarray) -> np.ndarray:
        """2×2 windows that tile x, as two pairwise maxima: across columns (N, C, H, Wo), then across
        rows (N, C, Ho, Wo). Ties go to the earlier entry in raster order, as in the k² loop, and the
        two "second one won" masks replace the argmax (fewer and cheaper passes: 1.9 -> 1.75 ms for
        forward + backward on (64, 16, 28, 28))."""
        n, c, h, w = x.shape
        order = memory_order(x)
        row_max = self.temporaries.take((n, c, h, w // 2), x.dtype, order)
        out = empty_in_order(order, (n, c, h // 2, w // 2), x.dtype)
        right = self._right.get(row_max.shape, np.bool_, order) if self.training else None
        lower = self._lower.get(out.shape, np.bool_, order) if self.training else None
        _max_of_pairs(x[..., 0::2], x[..., 1::2], row_max, right)
        _max_of_pairs(row_max[:, :, 0::2], row_max[:, :, 1::2], out, lower)
        self._cache = _MaxPoolCache(None, x.shape, order, (right, lower)) if self.training else None
        return out

    def _backward_2x2(self, dout: np.ndarray, cache: _MaxPoolCache, dx: np.ndarray) -> np.ndarray:
        """dout to the winning row of each column pair, then to the winning column: dx (N, C, H, W)."""
        right, lower = cache.pairs
        if memory_order(dout) != cache.x_order:  # e.g. from flatten: one copy of the small array, then passes in one layout
            laid_out = self.temporaries.take(dout.shape, dout.dtype, cache.x_order)
            np.copyto(laid_out, dout)
            dout = laid_out
        d_row = self.temporaries.take(right.shape, dout.dtype, cache.x_order)  # (N, C, H, Wo)
        np.multiply(dout, lower, out=d_row[:, :, 1::2])
        np.subtract(dout, d_row[:, :, 1::2], out=d_row[:, :, 0::2])  # exact: dout - dout or dout - 0
        np.multiply(d_row, right, out=dx[..., 1::2])
        np.subtract(d_row, dx[..., 1::2], out=dx[..., 0::2])
        return dx

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if not self._square:
            return MaxPool2D.backward(self, dout)
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        self.temporaries.release()
        dx = self.dx_buffers.get(cache.x_shape, dout.dtype, dout, cache.x_order)  # apart from the dout given
        if cache.positive is not None:  # relu's backward on the output: one pass, laid out like x for the passes below
            dout = np.multiply(dout, cache.positive, out=self.temporaries.take(dout.shape, dout.dtype, cache.x_order))
        if cache.pairs is not None:
            return self._backward_2x2(dout, cache, dx)
        k, s = self.size, self.stride
        ho, wo = dout.shape[2:]
        picked = np.empty_like(cache.argmax, dtype=bool)
        if _tiles(self.size, self.stride, cache.x_shape):  # every entry of dx is in exactly one window: write, no zero fill
            for offset in range(k * k):
                np.equal(cache.argmax, offset, out=picked)
                np.multiply(dout, picked, out=offset_view(dx, offset // k, offset % k, s, ho, wo))
            return dx
        dx.fill(0)
        routed = np.empty_like(cache.argmax, dtype=dout.dtype)
        for offset in range(k * k):
            np.equal(cache.argmax, offset, out=picked)
            np.multiply(dout, picked, out=routed)
            offset_view(dx, offset // k, offset % k, s, ho, wo)[...] += routed
        return dx

    def kink_state(self) -> Optional[np.ndarray]:
        """Each window's argmax offset i·k + j (a new array)."""
        if not self._square:
            return MaxPool2D.kink_state(self)
        cache = self._cache
        if cache is None:
            return None
        if cache.pairs is None:
            state = cache.argmax
        else:
            right, lower = cache.pairs
            column = np.where(lower, right[:, :, 1::2], right[:, :, 0::2])
            state = (2 * lower + column).astype(np.int8)
        if cache.positive is not None:  # the pool of relu(x): a window with no positive entry is all zeros, its first wins
            state = np.where(cache.positive, state, 0).astype(state.dtype)
        return state


@twin_of("avgpool2d")
class FastAvgPool2D(FastLayer, AvgPool2D):
    """AvgPool2D as k² passes over strided views in the input's memory layout, no zero fill when windows tile: x (N, C, H, W), out (N, C, Ho, Wo)."""

    fresh_output = True  # a new array each forward; nothing but the input shape is cached

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not square(self.size, self.stride):
            return AvgPool2D.forward(self, x)
        k, s = self.size, self.stride
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        out = offset_view(x, 0, 0, s, ho, wo).copy(order="K")
        for offset in range(1, k * k):
            out += offset_view(x, offset // k, offset % k, s, ho, wo)
        out *= out.dtype.type(1.0 / (k * k))
        self._x_shape = x.shape if self.training else None
        self._x_order = memory_order(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if not square(self.size, self.stride):
            return AvgPool2D.backward(self, dout)
        if self._x_shape is None:
            raise no_cache(self)
        k, s = self.size, self.stride
        ho, wo = dout.shape[2:]
        share = dout * dout.dtype.type(1.0 / (k * k))
        dx = empty_in_order(self._x_order, self._x_shape, dout.dtype)
        if _tiles(self.size, self.stride, self._x_shape):
            for offset in range(k * k):
                offset_view(dx, offset // k, offset % k, s, ho, wo)[...] = share
            return dx
        dx.fill(0)
        for offset in range(k * k):
            offset_view(dx, offset // k, offset % k, s, ho, wo)[...] += share
        return dx
