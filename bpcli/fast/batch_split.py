"""Data parallel over the batch: a convnet's training step as slices of the batch, one per core
(`machine_parts`), each run forward and backward through its own replica of the graph on its own thread.

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
parameter's gradient is the sum of the slices' sums (slice 0 into the graph's own arrays, in
slice order). The slices are cut by the model, the batch and the machine's core count, never by
its load, and their number of threads does not change a bit: on a busy machine (`workers` = 1)
they run one after the other and give the same numbers. Measured on 2 cores only; on more, each
core gets a slice of at least MIN_EXAMPLES_PER_PART examples.

    split = BatchSplit(graph)               # graph built from the fast layers, wired
    scores = split.forward(X)               # (N, classes), training mode
    split.backward(dscores)                 # graph.grads() now hold the whole batch's gradients
    split.scores(X)                         # eval mode (validation, final metrics), also in slices
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
from bpcli.fast.thread_policy import usable_cores
from bpcli.host import openblas
from bpcli.host.denormals import flushed_denormals, flushing
from bpcli.nn.layer import LAYERS

MAX_PARTS = 8
MIN_EXAMPLES_PER_PART = 8
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


def machine_parts() -> int:
    """Slices a batch may be cut into on this machine: one per usable core, at most MAX_PARTS (one
    core: none). The cores, not the idle ones: the numbers must not change with the machine's load."""
    return max(1, min(MAX_PARTS, usable_cores()))


class BatchSplit:
    """graph's training step over slices of the batch (at most `parts`); `workers` threads run them (1: in turn)."""

    def __init__(self, graph: Any, parts: Optional[int] = None, workers: int = 1):
        self.graph, self.parts, self.workers = graph, parts or machine_parts(), workers
        self.replicas = [graph]
        self._bounds: list[tuple[int, int]] = []
        self._macs = conv_macs_per_example(graph)

    def parts_for(self, batch: int) -> int:
        """Slices for a batch of this size: 1 (whole) below MIN_CONV_MACS in its convolutions, else as
        many as `parts` allows with MIN_EXAMPLES_PER_PART examples each (the model and the batch decide, not the load)."""
        if batch * self._macs < MIN_CONV_MACS:
            return 1
        return max(1, min(self.parts, batch // MIN_EXAMPLES_PER_PART))

    def applies(self, batch: int) -> bool:
        """Whether a batch of this size is split."""
        return self.parts_for(batch) > 1

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Training-mode scores (N, ...) of X: each replica's forward on its slice, concatenated."""
        n = len(X)
        k = self.parts_for(n)
        self._bounds = [(n * i // k, n * (i + 1) // k) for i in range(k)]
        while len(self.replicas) < k:
            self.replicas.append(replica_of(self.graph))
        self._share_params()
        outs = self._run(lambda i: self.replicas[i].forward(X[slice(*self._bounds[i])], training=True), k)
        return np.concatenate(outs)

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Eval-mode forward of X (the model's scores), as slices when the batch is split, else whole."""
        k = self.parts_for(len(X))
        if k == 1:
            return self.graph.forward(X, training=False)
        bounds = [(len(X) * i // k, len(X) * (i + 1) // k) for i in range(k)]
        while len(self.replicas) < k:
            self.replicas.append(replica_of(self.graph))
        self._share_params()
        return np.concatenate(self._run(lambda i: self.replicas[i].forward(X[slice(*bounds[i])], training=False), k))

    def backward(self, dscores: np.ndarray) -> None:
        """Each replica's backward on its slice of dL/d(scores), then the graph's gradients = Σ over slices, in order."""
        self._run(lambda i: self.replicas[i].backward(dscores[slice(*self._bounds[i])], input_grad=False), len(self._bounds))
        total = self.graph.grads()
        for replica in self.replicas[1 : len(self._bounds)]:
            for name, g in replica.grads().items():
                np.add(total[name], g, out=total[name])

    def _share_params(self) -> None:
        """Point every replica at the graph's parameter arrays again (one may have been replaced since);
        replicas of another dtype (the graph was cast with `to`) are made again."""
        if any(replica.dtype != self.graph.dtype for replica in self.replicas[1:]):
            self.replicas = [self.graph] + [replica_of(self.graph) for _ in self.replicas[1:]]
        for replica in self.replicas[1:]:
            for mine, theirs in zip(self.graph.nodes, replica.nodes):
                theirs.layer.params.update(mine.layer.params)

    def _run(self, part: Callable[[int], Any], k: int) -> list:
        """[part(i) for i < k] with BLAS on one thread: slice i on thread i mod `workers` (this
        thread is 0), or all in turn; the fast layers pick their route by BLAS's thread count, so
        every slice computes the same way on any thread."""
        with _one_split_at_a_time:  # BLAS's thread count is the process's: two trainers in two threads take turns
            return self._run_pinned(part, k)

    def _run_pinned(self, part: Callable[[int], Any], k: int) -> list:
        in_turn = lambda first, step: [(i, part(i)) for i in range(first, k, step)]  # noqa: E731
        blas = openblas.threads()
        if not openblas.set_threads(1):  # no OpenBLAS to pin: in turn, so that no two BLAS pools compete
            return [result for _, result in in_turn(0, 1)]
        try:
            threads = max(1, min(self.workers, k))
            futures = [_submit(in_turn, t, threads) for t in range(1, threads)]
            try:
                done = in_turn(0, threads)
            finally:
                wait(futures)  # even when this thread's slices failed: no replica is left running
            for future in futures:
                done += future.result()
            return [result for _, result in sorted(done, key=lambda pair: pair[0])]
        finally:
            openblas.set_threads(blas)


_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()
_one_split_at_a_time = threading.Lock()


def _submit(fn: Callable[..., Any], *args: Any) -> Future:
    """fn(*args) on the shared worker threads, under this thread's NumPy error state and subnormal flushing."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=MAX_PARTS - 1, thread_name_prefix="bpcli-part")
    errors, flush = np.geterr(), flushing()

    def run() -> Any:
        with _callers_environment(errors, flush):
            return fn(*args)

    return _pool.submit(run)


@contextmanager
def _callers_environment(errors: dict, flush: bool) -> Iterator[None]:
    """np.errstate and the MXCSR flush bits are per thread: a worker takes the caller's."""
    with np.errstate(**errors), flushed_denormals(flush):
        yield
