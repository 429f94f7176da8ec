"""Model: a layer graph, a data loss and weight regularization; the total loss and its gradients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from bpcli.nn.graph import LayerGraph
from bpcli.nn.losses import Loss
from bpcli.nn.regularization import REGULARIZERS


@dataclass(frozen=True)
class LossParts:
    """data = mean data loss over the batch, reg = regularization, total = data + reg."""

    data: float
    reg: float
    total: float


class Model:
    """total loss = loss(graph(X), y) + regularizer(weights, reg_strength); grads of it land in graph.grads()."""

    def __init__(
        self,
        graph: LayerGraph,
        loss: Loss,
        regularizer: Optional[Callable] = None,
        reg_strength: float = 0.0,
    ):
        self.graph = graph
        self.loss_fn = loss
        self.regularizer = regularizer if regularizer is not None else REGULARIZERS.get("none")
        self.reg_strength = reg_strength
        self._slots: Optional[list] = None

    def _weight_slots(self) -> list[tuple[str, Any, str]]:
        """("node.W", layer, "W") for every regularized weight (the names never change)."""
        if self._slots is None:
            layers = {n.name: n.layer for n in self.graph.nodes}
            self._slots = [(full, layers[full.rsplit(".", 1)[0]], full.rsplit(".", 1)[1]) for full in self.graph.weight_names()]
        return self._slots

    def _weights(self) -> dict[str, np.ndarray]:
        return {full: layer.params[k] for full, layer, k in self._weight_slots()}

    def _regularization(self) -> tuple[float, dict]:
        if self.reg_strength == 0.0:
            return 0.0, {}
        return self.regularizer(self._weights(), self.reg_strength)

    def loss(self, X: np.ndarray, y: np.ndarray, training: bool = True) -> LossParts:
        """Forward only: the data loss, the regularization and their sum."""
        scores = self.graph.forward(X, training=training)
        data = self.loss_fn.value(scores, y)
        reg = self._regularization()[0]
        return LossParts(data, reg, data + reg)

    def loss_and_grads(self, X: np.ndarray, y: np.ndarray) -> LossParts:
        """Training-mode forward and backward; graph.grads() then hold d(total)/d(param)."""
        scores = self.graph.forward(X, training=True)
        data, dscores = self.loss_fn.loss(scores, y)
        self.graph.backward(dscores, input_grad=False)
        reg, reg_grads = self._regularization()
        if reg_grads:
            for full, layer, k in self._weight_slots():
                layer.grads[k] += reg_grads[full]  # in place: the layer's own gradient array
        return LossParts(data, reg, data + reg)

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Eval-mode forward (dropout off, batchnorm running statistics); nothing is cached."""
        return self.graph.forward(X, training=False)

    # conveniences that forward to the graph
    def params(self) -> dict[str, np.ndarray]:
        return self.graph.params()

    def grads(self) -> dict[str, np.ndarray]:
        return self.graph.grads()

    def to(self, dtype: Any) -> None:
        self.graph.to(dtype)
