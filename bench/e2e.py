"""Fashion-MNIST MLP end to end: `bpcli train` against the equivalent PyTorch script."""

from __future__ import annotations


def bench_fashion_mnist(use_torch: bool) -> dict:
    return {"config": "configs/fashion-mnist-mlp.yaml", "sides": {}, "note": "not written yet"}
