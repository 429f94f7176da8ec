"""Buffers of the fast layers: reusable scratch arrays, gradient arrays kept across steps, the fusable gradient product."""

from __future__ import annotations

from typing import Any

import numpy as np

from bpcli.host.blas import gemm
from bpcli.fast.layout import empty_in_order


class Scratch:
    """One reusable buffer of one layer (reallocated when shape, dtype or memory order change).

    Used for what a layer keeps from forward to backward across steps (conv's padded input,
    relu and pool masks): it saves an allocation per step. Arrays needed only inside one call,
    and dx, come from the graph's shared `workspace.py` instead. `order` lays the memory out like
    another array's (`layout.memory_order`); None is C order.
    """

    __slots__ = ("array", "order")

    def __init__(self) -> None:
        self.array: np.ndarray | None = None
        self.order: tuple = ()

    def get(self, shape: tuple, dtype: Any, order: tuple | None = None) -> np.ndarray:
        order = tuple(range(len(shape))) if order is None else tuple(order)
        a = self.array
        if a is None or a.shape != shape or a.dtype != dtype or self.order != order:
            a = self.array = empty_in_order(order, shape, dtype)
            self.order = order
        return a


def grad_buffer(layer: Any, key: str) -> np.ndarray:
    """layer.grads[key] when it already fits params[key] (shape, dtype), else a fresh one."""
    p = layer.params[key]
    g = layer.grads.get(key)
    if g is None or g.shape != p.shape or g.dtype != p.dtype:
        g = layer.grads[key] = np.empty_like(p)
    return g


def emit_grad_product(layer: Any, key: str, a: np.ndarray, b: np.ndarray) -> None:
    """d(loss)/d(params[key]) = a @ b (reshaped to the param's shape as (M, N)): written to
    grads[key], or, while the optimizer's update is fused in, as sink.target = alpha · a @ b + beta · sink.target."""
    sinks = layer.grad_sinks
    sink = sinks.get(key) if sinks else None
    rows_cols = (a.shape[0], b.shape[1])
    if sink is None:
        gemm(a, b, grad_buffer(layer, key).reshape(rows_cols))
        return
    gemm(a, b, sink.target.reshape(rows_cols), sink.alpha, sink.beta)
    sink.taken = True
