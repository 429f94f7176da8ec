"""The `axis` option of softmax and log_softmax: one axis of the (N, ...) input or a list of them."""

from __future__ import annotations

from typing import Tuple, Union

from bpcli.errors import ShapeError

Axes = Union[int, Tuple[int, ...]]


def example_axes(layer: str, axis: Axes, input_shape: tuple) -> tuple[int, ...]:
    """`axis` (one or several) of an (N, *input_shape) array as non-negative indices; never 0, the batch axis."""
    ndim = len(input_shape) + 1
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    shown = f"(N, {', '.join(map(str, input_shape))})"
    if not axes:
        raise ShapeError(f"{layer}: axis is an empty list; give at least one axis of {shown}")
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{layer}: axis {a} does not exist in inputs {shown}")
        if a % ndim == 0:
            raise ShapeError(f"{layer}: axis {a} is the batch axis of {shown}; examples are independent, choose 1 or more")
    resolved = tuple(sorted({a % ndim for a in axes}))
    if len(resolved) != len(axes):
        raise ShapeError(f"{layer}: axis {list(axes)} names one axis twice")
    return resolved
