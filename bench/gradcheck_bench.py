"""Gradient-check time for the MNIST-sized model (784-512-256-10, batch 128) in each mode."""

from __future__ import annotations


def bench_gradcheck(smoke: bool = False) -> dict:
    return {"model": "784-512-256-10, batch 128", "modes": [], "note": "bpcli gradcheck not available yet"}
