"""What `bpcli show` reports: the resolved spec and the model's layers, shapes and sizes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from bpcli.spec.validate import Spec


@dataclass
class LayerRow:
    """One line of the model summary."""

    name: str
    type: str
    inputs: list[str]
    output_shape: tuple
    params: int


@dataclass
class SpecSummary:
    """The resolved spec plus, when the input shape is known, every layer's output shape."""

    spec: dict[str, Any]
    source: str
    model_form: str
    input_shape: Optional[tuple] = None
    n_classes: Optional[int] = None
    layers: list[LayerRow] = field(default_factory=list)
    note: str = ""  # why the layer table is missing, when it is
    path: str = ""  # the spec file ("source" names a built-in spec as "built-in spec NAME")

    @property
    def total_params(self) -> int:
        return sum(row.params for row in self.layers)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "spec": self.spec,
            "model": {
                "form": self.model_form,
                "input_shape": list(self.input_shape) if self.input_shape is not None else None,
                "n_classes": self.n_classes,
                "layers": [
                    {"name": r.name, "type": r.type, "inputs": r.inputs, "output_shape": list(r.output_shape), "params": r.params}
                    for r in self.layers
                ],
                "total_params": self.total_params,
                **({"note": self.note} if self.note else {}),
            },
        }


def summarize(spec: Spec) -> SpecSummary:
    """The data's input shape (from file headers where possible), the graph built on it, every layer.
    Data that is not on this machine leaves the shapes unknown and says why."""
    from bpcli.data import data_shape
    from bpcli.errors import DataMissing
    from bpcli.spec.build import build_graph

    source = spec.origin or (str(spec.path) if spec.path else "<spec>")
    summary = SpecSummary(spec.to_dict(), source, spec.model_form, path=str(spec.path or ""))
    from types import SimpleNamespace

    from bpcli.data import load_data
    from bpcli.data.label_check import check_labels_fit
    from bpcli.data.registry import SHAPES

    try:
        if spec.data.get("type") in SHAPES:  # big files: the shape from their headers, no labels read
            input_shape, summary.n_classes = data_shape(spec.data, base_dir=spec.base_dir, seed=spec.seed)
            labels = SimpleNamespace(task="classification", n_classes=summary.n_classes, labels_as_read=None)
        else:  # generated or small: loaded, so a bad label is named with its file and row
            labels = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed)
            input_shape, summary.n_classes = labels.input_shape, labels.n_classes
    except DataMissing as missing:
        summary.note = getattr(missing, "unplaced_message", missing.message)
        return summary
    summary.input_shape = tuple(input_shape)
    graph = build_graph(spec, summary.input_shape)
    if summary.n_classes:
        check_labels_fit(labels, graph.output_shape)
    inputs = {n.name: list(n.inputs) for n in spec.model}
    for name, type_name, shape, n_params in graph.summary():
        summary.layers.append(LayerRow(name, type_name, inputs.get(name, []), tuple(shape), int(n_params)))
    return summary
