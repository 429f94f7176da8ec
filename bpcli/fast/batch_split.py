"""Data parallel over the batch: a convnet's training step as PARTS slices of the batch, each run
forward and backward through its own replica of the graph, on its own core.

Why: a convnet step is not only GEMMs. Padding, im2col copies, relu and pooling are NumPy passes
that run on one core whatever BLAS does, and a second BLAS thread splits each GEMM only while its
own worker is awake. Two halves of the batch on two threads, BLAS on one thread each, keep both
cores busy with everything (the GIL is released inside NumPy's loops and BLAS calls): the
four-conv CIFAR net's step went from 112-131 ms to 84-101 ms on two cores (PyTorch 66-75 ms in the
same runs; `bench/run.py --only conv4`). Dense nets gain nothing this way: their steps are a few
large GEMMs that BLAS already splits well (1024-wide MLP 13.7 against 14.6 ms), so only graphs
with a fast conv2d are split, and only batches whose convolutions are big enough
(MIN_CONV_MACS): each slice costs the layers' Python overhead again.

The math is the full batch's: every split layer treats examples independently (no batch
statistics, no noise), the loss and its gradient are taken on the whole batch's scores, and each
parameter's gradient is the sum of the parts' sums (part 0 into the graph's own arrays, in part
order). So the result does not depend on how many threads run the parts: with one worker they run
one after the other, and the numbers are the same bit for bit.

    split = BatchSplit(graph)               # graph built from the fast layers, wired
    scores = split.forward(X)               # (N, classes), training mode
    split.backward(dscores)                 # graph.grads() now hold the whole batch's gradients
"""

from __future__ import annotations

import copy
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

import numpy as np

from bpcli.fast.conv import FastConv2D
from bpcli.fast.layer import TWINS
from bpcli.host import openblas
from bpcli.host.denormals import flushed_denormals, flushing
from bpcli.nn.layer import LAYERS

PARTS = 2
MIN_EXAMPLES_PER_PART = 8  # smaller batches run whole
# Multiply-adds of a batch's conv2d forwards from which it is split. The bench's 28x28 CNN (65 M
# at batch 64) went from 1.32x torch's step to 1.09; the Fashion-MNIST config's (18 M) took
# 5.9-8.5 ms split on two threads against 6.0 whole, and 8.0 against 7.0 in turn on one.
MIN_CONV_MACS = 32 * 2**20

# Layers whose forward and backward treat each example on its own and keep no state between
# steps: a batch may be cut anywhere between examples. Not batchnorm (batch statistics), dropout
# (one noise stream per layer) or expr (any expression).
PER_EXAMPLE_LAYERS = frozenset({
    "conv2d", "conv1d", "dense", "flatten", "maxpool2d", "avgpool2d", "add", "concat",
    "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "log_softmax", "layernorm",
})


def _is_per_example(layer: Any) -> bool:
    """Whether layer is exactly a registered per-example layer or its fast twin (not a subclass)."""
    name = getattr(type(layer), "registered_name", "")
    if name not in PER_EXAMPLE_LAYERS:
        return False
    return type(layer) is LAYERS.get(name) or (name in TWINS and type(layer) is TWINS.get(name))


def splittable(graph: Any) -> bool:
    """Whether a step of graph may run as slices of the batch: a fast conv2d in it, every layer per example."""
    layers = [node.layer for node in graph.nodes]
    return any(isinstance(layer, FastConv2D) for layer in layers) and all(map(_is_per_example, layers))


def conv_macs_per_example(graph: Any) -> int:
    """Multiply-adds of one example's conv2d forwards: W's size times the output positions, summed."""
    return sum(
        int(node.layer.params["W"].size) * math.prod(graph.shapes[node.name][1:])
        for node in graph.nodes if isinstance(node.layer, FastConv2D)
    )


def replica_of(graph: Any) -> Any:
    """A deep copy of graph that shares its parameter arrays and nothing else (caches, gradients, scratch)."""
    shared = {id(p): p for p in graph.params().values()}
    return copy.deepcopy(graph, shared)


class BatchSplit:
    """graph's training step over PARTS slices of the batch; `workers` threads run them (1: in turn)."""

    def __init__(self, graph: Any, parts: int = PARTS, workers: int = 1):
        self.graph, self.parts, self.workers = graph, parts, workers
        self.replicas = [graph] + [replica_of(graph) for _ in range(parts - 1)]
        self._bounds: list[tuple[int, int]] = []
        self._macs = conv_macs_per_example(graph)

    def applies(self, batch: int) -> bool:
        """Whether a batch of this size is split: MIN_CONV_MACS in its convolutions, every part at
        least MIN_EXAMPLES_PER_PART examples (a function of the model and the batch, not the machine)."""
        return batch >= self.parts * MIN_EXAMPLES_PER_PART and batch * self._macs >= MIN_CONV_MACS

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Training-mode scores (N, ...) of X: each replica's forward on its slice, concatenated."""
        n = len(X)
        self._bounds = [(n * i // self.parts, n * (i + 1) // self.parts) for i in range(self.parts)]
        self._share_params()
        outs = self._run(lambda i: self.replicas[i].forward(X[slice(*self._bounds[i])], training=True))
        return np.concatenate(outs)

    def backward(self, dscores: np.ndarray) -> None:
        """Each replica's backward on its slice of dL/d(scores), then the graph's gradients = Σ over parts."""
        self._run(lambda i: self.replicas[i].backward(dscores[slice(*self._bounds[i])], input_grad=False))
        total = self.graph.grads()
        for replica in self.replicas[1:]:
            for name, g in replica.grads().items():
                np.add(total[name], g, out=total[name])

    def _share_params(self) -> None:
        """Point every replica at the graph's parameter arrays again (one may have been replaced since)."""
        for replica in self.replicas[1:]:
            for mine, theirs in zip(self.graph.nodes, replica.nodes):
                theirs.layer.params.update(mine.layer.params)

    def _run(self, part: Callable[[int], Any]) -> list:
        """[part(i) for each part] with BLAS on one thread: on the worker threads as well as this one
        when `workers` > 1, else in turn (the fast layers pick their route by BLAS's thread count,
        so the parts compute the same way either way)."""
        with _one_split_at_a_time:  # BLAS's thread count is the process's: two trainers in two threads take turns
            return self._run_pinned(part)

    def _run_pinned(self, part: Callable[[int], Any]) -> list:
        blas = openblas.threads()
        if not openblas.set_threads(1):  # no OpenBLAS to pin: in turn, so that no two BLAS pools compete
            return [part(i) for i in range(self.parts)]
        try:
            if self.workers < 2:
                return [part(i) for i in range(self.parts)]
            futures = [_submit(part, i) for i in range(1, self.parts)]
            try:
                first = part(0)
            finally:
                wait(futures)  # even when part 0 failed: no replica is left running
            return [first] + [future.result() for future in futures]
        finally:
            openblas.set_threads(blas)


_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()
_one_split_at_a_time = threading.Lock()


def _submit(part: Callable[[int], Any], i: int) -> Future:
    """part(i) on the shared worker threads, under this thread's NumPy error state and subnormal flushing."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=PARTS - 1, thread_name_prefix="bpcli-part")
    errors, flush = np.geterr(), flushing()

    def run() -> Any:
        with _callers_environment(errors, flush):
            return part(i)

    return _pool.submit(run)


@contextmanager
def _callers_environment(errors: dict, flush: bool) -> Iterator[None]:
    """np.errstate and the MXCSR flush bits are per thread: a worker takes the caller's."""
    with np.errstate(**errors), flushed_denormals(flush):
        yield
