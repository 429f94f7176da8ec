"""TrainStep: one optimization step of a Model, with the optimizer's update fused into backward where it can be.

    step = TrainStep(model, optimizer, clip_norm=None)
    loss, reg_loss, scores = step.forward(X, y)   # look at the loss before anything changes
    step.backward_and_update()

Fusion (`fused_update.py`): sgd and momentum begin their update with target = alpha · dW + beta · target
(w = -lr·dW + w; v = -lr·dW + mu·v). A fast dense layer's dW is one GEMM, x.T @ dout, and BLAS
computes alpha · x.T @ dout + beta · target in the same call, so the gradient array is never
written nor read back (measured on the 1024-wide MLP: the momentum update went from 1.3 ms to
~0.1 ms a step). Clipping needs every gradient before any update, so it turns fusion off;
regularization does not (its gradient depends on the weights only). L2 is folded in without
gradient arrays of its own: λ·W goes through one reused buffer into W's gradient after
backward (rounded as the reference rounds it), into a fused target with one axpy (scaled by
alpha), and where the target is W itself (sgd) as beta + alpha·λ in the GEMM; other regularizers' gradients are taken before backward and added afterwards.
The optimizer's own step runs through its fast twin where it has one (`optimizer_steps.py`:
adam, adamw). Parameters whose layer does not emit through a sink
(`FastLayer.fusable_grads`, declared by the layer's own class) get the ordinary update from their
gradient array, and so do parameters the optimizer was not given. An exception inside backward
can leave a fused update half done (the trainer only stops between steps).

A convnet's step runs as slices of the batch on `workers` threads (`batch_split.py`); its
gradients are then summed into the graph's arrays and the update is the ordinary one (the
parameters of a convnet are few, so fusing saves little there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from bpcli.host.blas import axpy
from bpcli.fast.batch_split import BatchSplit, splittable
from bpcli.fast.buffers import Scratch
from bpcli.fast.fused_update import fused_update
from bpcli.fast.optimizer_steps import fast_step
from bpcli.nn.optim import clip_by_global_norm
from bpcli.nn.regularization import REGULARIZERS


@dataclass
class GradSink:
    """Where a layer's backward writes one parameter's gradient g: target = alpha · g + beta · target."""

    target: np.ndarray
    alpha: float
    beta: float
    taken: bool = False


class TrainStep:
    """forward(X, y) -> (data loss, regularization loss, scores); then backward_and_update()."""

    def __init__(self, model: Any, optimizer: Any, clip_norm: Optional[float] = None, fuse: bool = True,
                 split: bool = True, workers: int = 1):
        self.model, self.optimizer, self.clip_norm = model, optimizer, clip_norm
        self._fused_update = fused_update(optimizer) if fuse and not clip_norm else None
        graph = model.graph
        self._weights = {k: graph.params()[k] for k in graph.weight_names()}
        self._reg_on = bool(model.regularizer is not None and model.reg_strength)
        self._l2 = self._reg_on and model.regularizer is REGULARIZERS.get("l2")
        self._step = fast_step(optimizer)
        self._l2_scratch = Scratch()  # λ·W of one weight at a time
        self._largest_weight = max((w.size for w in self._weights.values()), default=0)
        self._fusable: list[tuple[str, Any, str]] = []  # (full name, layer, key)
        if self._fused_update is not None:
            for node in graph.nodes:
                layer = node.layer
                # only classes that declare it themselves: a subclass may read params after emitting
                for key in type(layer).__dict__.get("fusable_grads", ()):
                    name = f"{node.name}.{key}"
                    if key in layer.params and name in optimizer.params:
                        self._fusable.append((name, layer, key))
        self._dscores: Optional[np.ndarray] = None
        self._reg_grads: dict = {}
        self._split = BatchSplit(graph, workers=workers) if split and splittable(graph) else None
        self._split_now = False  # whether the forward just taken ran as slices

    def splits(self, batch: int) -> bool:
        """Whether steps on batches of this size run as slices of the batch (`batch_split.py`)."""
        return self._split is not None and self._split.applies(batch)

    def scores(self, X: np.ndarray) -> np.ndarray:
        """The model's eval-mode scores of X, as slices on the workers where a batch this size is split."""
        return self._split.scores(X) if self._split is not None else self.model.scores(X)

    @property
    def workers(self) -> int:
        """Threads a split step runs its slices on (1: in turn); 0 when this model's steps are not split."""
        return self._split.workers if self._split is not None else 0

    @workers.setter
    def workers(self, n: int) -> None:
        if self._split is not None:
            self._split.workers = max(1, int(n))

    @property
    def fusing(self) -> bool:
        """Whether this optimizer and these layers fuse at least one update into backward."""
        return bool(self._fusable)

    def forward(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Training-mode forward, loss and its gradient, and the regularization (weights unchanged)."""
        model = self.model
        self._split_now = self._split is not None and self._split.applies(len(X))
        scores = self._split.forward(X) if self._split_now else model.graph.forward(X, training=True)
        loss, self._dscores = model.loss_fn.loss(scores, y)
        reg_loss = 0.0
        self._reg_grads = {}
        if self._l2:
            reg_loss = l2_loss(self._weights, model.reg_strength)
        elif self._reg_on:
            reg_loss, self._reg_grads = model.regularizer(self._weights, model.reg_strength)
        return float(loss), float(reg_loss), scores

    def backward_and_update(self) -> None:
        """Backward through the graph, then the optimizer's step: fused where possible."""
        if self._dscores is None:
            raise RuntimeError("TrainStep.backward_and_update called without forward")
        sinks: dict[str, GradSink] = {}
        if self._split_now:
            self._split.backward(self._dscores)
        else:
            try:
                self._install_sinks(sinks)
                self.model.graph.backward(self._dscores, input_grad=False)
            finally:
                for _, layer, _ in self._fusable:
                    layer.grad_sinks = None
        self._dscores = None
        grads = self.model.graph.grads()
        fused = {name for name, sink in sinks.items() if sink.taken}
        for name, g in self._reg_grads.items():
            if name in fused:
                axpy(sinks[name].alpha, g, sinks[name].target)
            else:
                grads[name] += g
        if self._l2:
            self._add_l2_gradient(grads, sinks, fused)
        if self.clip_norm:
            clip_by_global_norm(grads, self.clip_norm)
        for name in fused:
            self._fused_update.finish(self.optimizer, name)
        self._step(grads, fused)

    def _add_l2_gradient(self, grads: dict, sinks: dict, fused: set) -> None:
        """d(0.5·λ·ΣW²)/dW = λ·W, added where W's gradient went (W is not updated yet, except
        where the sink's target is W itself: that one took it as its beta)."""
        strength = self.model.reg_strength
        for name, w in self._weights.items():
            sink = sinks.get(name) if name in fused else None
            if sink is None:
                scaled = self._l2_scratch.get((self._largest_weight,), w.dtype)[: w.size].reshape(w.shape)
                grads[name] += np.multiply(w, w.dtype.type(strength), out=scaled)
            elif sink.target is not w:
                axpy(sink.alpha * strength, w, sink.target)

    def _install_sinks(self, sinks: dict) -> None:
        for name, layer, key in self._fusable:
            sink = sinks[name] = GradSink(*self._fused_update.target(self.optimizer, name))
            if self._l2 and name in self._weights and sink.target is self._weights[name]:
                sink.beta += sink.alpha * self.model.reg_strength  # W = alpha·dW + (beta + alpha·λ)·W
            if layer.grad_sinks is None:
                layer.grad_sinks = {}
            layer.grad_sinks[key] = sink


def l2_loss(weights: dict, strength: float) -> float:
    """0.5 · λ · Σ W², the l2 regularizer's loss (bpcli/nn/regularization.py) without its gradient arrays."""
    return 0.5 * strength * sum(float(np.vdot(w, w)) for w in weights.values())
