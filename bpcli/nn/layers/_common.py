"""Helpers shared by the built-in layers: option checks, shape checks, the missing-cache error."""

from __future__ import annotations

from typing import Any

from bpcli.errors import ShapeError, SpecError, SpecProblem


def check_option(ok: bool, layer: str, option: str, message: str) -> None:
    """Raise SpecError "dense: units must be >= 1, got 0" (path = the option) unless ok."""
    if not ok:
        raise SpecError(SpecProblem(f"{layer}: {option} {message}", path=option))


def need_rank(layer: str, shape: tuple, rank: int, what: str) -> None:
    """ShapeError unless the per-example shape has `rank` axes."""
    if len(shape) != rank:
        raise ShapeError(f"{layer} needs {what} per example, got shape {tuple(shape)}")


def no_cache(layer: Any) -> RuntimeError:
    return RuntimeError(f"{layer!r}: backward called without a training-mode forward before it")
