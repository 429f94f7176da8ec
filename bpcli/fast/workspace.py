"""Memory the fast layers of one graph share: temporaries of one call, and dx buffers that take turns.

A training step keeps every layer's forward cache alive at once (that is backprop), but most
other buffers are needed only while one layer runs (a chunk of im2col columns, dout laid out
as rows or on the padded grid, a pool's row maxima) or until the next layer down has read them
(dx). Kept per layer, they all stay resident together. Here:

- `Temporaries`: one block that every call carves its temporaries from. `release()` at the start
  of a call frees what the previous call took; the block grows to the most any call holds at once.
- `DxBuffers`: two blocks that dx alternates between. A layer writes its dx into the block that
  does not hold its dout, so in a chain the dx of one layer stays intact while the layer below
  reads it as dout and writes its own dx into the other block.

`wiring.wire` gives one Temporaries to every fast layer of a graph, and one DxBuffers too when
the graph is a chain, where each dx is read by the next backward call only (see there); a
conv's forward lets the dx blocks go till the next backward. A layer on its own keeps its own
pair (`FastLayer.__init__`). A copy of a graph (`copy.deepcopy`) gets new, empty ones, shared
within the copy like the originals: replicas run concurrently, each in its own memory.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

_ALIGN = 64  # bytes: every array handed out starts on a cache line
_MAX_VIEWS = 32  # arrays remembered per block (a few shapes per layer); past it, the memo starts over


def _nbytes(shape: tuple, dtype: Any) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize


class _Block:
    """Uninitialized memory, cache-line aligned, and the arrays laid over it so far (made once:
    a layer asks for the same few every step, and making one costs ~15 µs against ~0.5 to look it up)."""

    __slots__ = ("memory", "_views")

    def __init__(self, n_bytes: int) -> None:
        raw = np.empty(n_bytes + _ALIGN, dtype=np.uint8)
        start = -raw.ctypes.data % _ALIGN
        self.memory = raw[start : start + n_bytes]
        self._views: dict = {}

    def array(self, offset: int, shape: tuple, dtype: Any, order: Optional[tuple]) -> np.ndarray:
        """An array of logical `shape` from byte `offset` on, its memory running through the axes in
        `order` (`layout.memory_order`; None: C order)."""
        key = (offset, shape, dtype, order)
        view = self._views.get(key)
        if view is None:
            if len(self._views) >= _MAX_VIEWS:
                self._views.clear()
            axes = tuple(range(len(shape))) if order is None else tuple(order)
            memory = self.memory[offset : offset + _nbytes(shape, dtype)].view(dtype)
            view = self._views[key] = memory.reshape([shape[a] for a in axes]).transpose(np.argsort(axes))
        return view


def _fresh_copy(self: Any, memo: dict) -> Any:
    """deepcopy: a new, empty instance (buffers are refilled by the copy's own calls)."""
    return type(self)()


class Temporaries:
    """Arrays that live only inside one forward or backward call, carved one after another from one block."""

    __slots__ = ("_block", "_used", "_wanted")

    def __init__(self) -> None:
        self._block = _Block(0)
        self._used = 0  # bytes taken since release()
        self._wanted = 0  # the most bytes one call took: the block's size from the next release()

    def release(self) -> None:
        """Every array taken so far may be overwritten from now on: called where a call starts, and
        within one where what it took is no longer read."""
        if self._wanted > self._block.memory.size:
            self._block = _Block(0)  # the old one freed first
            self._block = _Block(self._wanted)
        self._used = 0

    def take(self, shape: tuple, dtype: Any, order: Optional[tuple] = None) -> np.ndarray:
        """An uninitialized array that nothing else taken in this call overlaps."""
        n_bytes = -(-_nbytes(shape, dtype) // _ALIGN) * _ALIGN
        start, self._used = self._used, self._used + n_bytes
        self._wanted = max(self._wanted, self._used)
        if self._used > self._block.memory.size:  # the first calls, until the block has grown
            if start:  # arrays taken before stay where they are: this one apart, the block grows at release
                return _Block(n_bytes).array(0, shape, dtype, order)
            self._block = _Block(0)
            self._block = _Block(n_bytes)
        return self._block.array(start, shape, dtype, order)

    def blocks(self) -> list:
        """The memory held between calls."""
        return [self._block.memory]

    __deepcopy__ = _fresh_copy


class DxBuffers:
    """Two blocks a chain's dx alternate between: each dx goes into the one its dout is not in."""

    __slots__ = ("_blocks", "_sizes")

    def __init__(self) -> None:
        self._blocks: list = [None, None]
        self._sizes = [0, 0]  # the most bytes each block held: its size when it is made again

    def get(self, shape: tuple, dtype: Any, dout: Optional[np.ndarray], order: Optional[tuple] = None) -> np.ndarray:
        """An uninitialized array for dx that shares no memory with dout (laid out in `order`)."""
        first = self._blocks[0]
        turn = 1 if dout is not None and first is not None and np.may_share_memory(dout, first.memory) else 0
        n_bytes = _nbytes(shape, dtype)
        block = self._blocks[turn]
        if block is None or n_bytes > block.memory.size:
            self._sizes[turn] = max(self._sizes[turn], n_bytes)
            self._blocks[turn] = None  # the old one freed first
            block = self._blocks[turn] = _Block(self._sizes[turn])
        return block.array(0, shape, dtype, order)

    def let_go(self) -> None:
        """Drop both blocks until the next get (arrays handed out keep their memory while referenced):
        called by a conv's forward, when no dx of the last backward is read any more, so that
        forward's new arrays can reuse the memory (glibc keeps freed blocks while training,
        `host/heap_reuse.py`): conv4's whole-batch step on one thread 87.8 -> 79.1 MB."""
        self._blocks = [None, None]

    def blocks(self) -> list:
        """The memory held between calls."""
        return [b.memory for b in self._blocks if b is not None]

    __deepcopy__ = _fresh_copy
