"""How many BLAS threads `train.blas_threads: auto` trains with, chosen from the model's size.

A second BLAS thread only pays when each GEMM is big enough to split: OpenBLAS wakes its workers
per call, and between calls they spin, so the small GEMMs of an MLP (Fashion-MNIST's 784-256-128-10
at batch 128: 26 M multiply-adds in its largest GEMM) run faster on one thread, by far on a busy
machine (see bpcli/host/blas_threads.py). Convnets are the other end: the 3×3 conv of 32 channels on
32×32 images at batch 64 is 604 M multiply-adds per GEMM, and with one thread its step took 1.5×
PyTorch's CPU time on two.
"""

from __future__ import annotations

import math
import os
from typing import Any

# Largest GEMM of a step (multiply-adds) from which every core is used: between the Fashion-MNIST
# MLP (26 M) and the CS231n three-layer convnet's 7×7 conv (241 M, batch 50).
MIN_MACS_FOR_ALL_CORES = 128 * 2**20


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def largest_gemm_macs(model: Any, batch_size: int) -> int:
    """Multiply-adds of the largest forward GEMM among the layers with a weight W: W's size times
    the output positions per example (1 for dense, Ho·Wo for conv2d) times the batch."""
    graph = model.graph
    largest = 0
    for node in graph.nodes:
        W = node.layer.params.get("W")
        shape = graph.shapes.get(node.name, ())
        if W is None or not shape:
            continue
        positions = math.prod(shape[1:])
        largest = max(largest, int(W.size) * positions * int(batch_size))
    return largest


def choose_blas_threads(model: Any, batch_size: int) -> int:
    """BLAS threads for training `model` on batches of `batch_size`: every usable core when its
    largest GEMM has at least MIN_MACS_FOR_ALL_CORES multiply-adds, else 1."""
    if largest_gemm_macs(model, batch_size) >= MIN_MACS_FOR_ALL_CORES:
        return usable_cores()
    return 1
