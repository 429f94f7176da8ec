"""A validated Spec -> a LayerGraph / Model; shape problems are placed at the layer's line."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bpcli.errors import ShapeError, SpecError, SpecProblem
from bpcli.spec.validate import Spec


def build_graph(spec: Spec, input_shape: tuple, dtype: Any = np.float32):
    """The model's LayerGraph for per-example `input_shape`, initialized from `spec.seed`, from
    the layers `spec.train.kernels` names: the fast twins (wired for in-place work) or the reference layers."""
    from bpcli.nn.graph import LayerGraph, Node

    fast = spec.train.kernels == "fast"
    if fast:
        from bpcli.fast import fast_class, wire
    nodes = [
        Node(n.name, (fast_class(n.layer_class) if fast else n.layer_class)(**n.options), list(n.inputs))
        for n in spec.model
    ]
    try:
        graph = LayerGraph(nodes, tuple(input_shape), dtype=dtype, seed=spec.seed)
    except ShapeError as err:
        raise SpecError(_place(spec, err)) from None
    if fast:
        wire(graph)
    return graph


def build_model(spec: Spec, input_shape: tuple, n_classes: Optional[int] = None, dtype: Any = np.float32):
    """Graph + loss + regularization, ready for `loss_and_grads`."""
    from bpcli.nn.losses import LOSSES
    from bpcli.nn.model import Model
    from bpcli.nn.regularization import REGULARIZERS

    graph = build_graph(spec, input_shape, dtype)
    check_output_width(spec, tuple(graph.output_shape), n_classes)
    loss_options = {k: v for k, v in spec.loss.items() if k != "type"}
    loss = LOSSES.get(spec.loss["type"])(**loss_options)
    reg_options = {k: v for k, v in spec.regularization.items() if k != "type"}
    regularizer = REGULARIZERS.get(spec.regularization["type"])
    strength = reg_options.get("strength", 0.0)
    return Model(graph, loss, regularizer, strength)


def expected_output_width(loss_type: str, n_classes: int) -> Optional[int]:
    """Scores per example the loss needs for `n_classes` classes: one per class (softmax, svm),
    one logit for two classes (bce_with_logits); None where the loss takes any width (mse)."""
    if loss_type in ("softmax_cross_entropy", "svm"):
        return n_classes
    if loss_type == "bce_with_logits":
        return 1 if n_classes == 2 else 0  # 0: no width fits, bce is for two classes
    return None


def check_output_width(spec: Spec, output_shape: tuple, n_classes: Optional[int]) -> None:
    """A SpecError at the output layer naming both numbers when the model's output width is not
    what the loss needs for the data's classes (moons' 2 classes, a `dense: 3` output)."""
    if not n_classes or not output_shape:
        return
    loss_type = spec.loss["type"]
    wanted = expected_output_width(loss_type, n_classes)
    width = output_shape[-1]
    if wanted is None or width == wanted:
        return
    if 0 < width < wanted:
        return  # labels without a score: data/label_check.py names the first such row
    node = spec.output_node
    if wanted == 0:
        message = f"{loss_type} is for 2 classes (one logit each), but the data has {n_classes} classes"
    else:
        message = (f"the model's output '{node.name}' gives {width} scores per example, but the data has "
                   f"{n_classes} classes and {loss_type} needs {wanted}"
                   + (" (one logit for two classes)" if loss_type == "bce_with_logits" else ""))
    where = node.where
    raise SpecError(SpecProblem(message, ".".join(map(str, node.path)), where.file, where.line, where.col))


def _place(spec: Spec, err: ShapeError) -> SpecProblem:
    """Put a graph error at the line of the node it belongs to (`err.node`), else at `model`."""
    node = next((n for n in spec.model if n.name == err.node), None)
    if node is not None:
        where = node.where
        return SpecProblem(err.message, ".".join(map(str, node.path)), where.file, where.line, where.col)
    file = str(spec.path) if spec.path else "<spec>"
    return SpecProblem(err.message, "model", file)
