"""export_weights: a model's weights (and batchnorm buffers) as .safetensors plus a JSON of its
architecture, in PyTorch state_dict names and layouts (`names="torch"`) or bpcli's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np

from bpcli.training.atomic_file import atomic_writer
from bpcli.weights.files import write_safetensors
from bpcli.weights.torch_layout import TRANSPOSED, torch_layout

Names = Literal["torch", "bpcli"]
FORMAT = "bpcli-weights/1"


def model_arrays(graph: Any) -> dict[str, np.ndarray]:
    """Every weight and buffer by bpcli name ("dense1.W", "batchnorm1.running_var")."""
    return {**graph.params(), **graph.buffers()}


def export_tensors(graph: Any, names: Names) -> tuple[dict[str, np.ndarray], dict]:
    """(tensors by name, the architecture): torch state_dict names and layouts, or bpcli's."""
    arrays = model_arrays(graph)
    if names == "bpcli":
        tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        described = {k: {"shape": list(v.shape), "from": k, "layout": "same"} for k, v in tensors.items()}
        return tensors, {"names": "bpcli", "tensors": described}
    layout = torch_layout(graph)
    tensors, described = {}, {}
    for entry in layout.entries:
        if entry.kind == "counter":
            value = np.array(0, dtype=np.int64)  # batches seen: torch's own counter, which bpcli does not keep
        else:
            value = arrays[entry.source]
            value = np.require(value.T if entry.layout == TRANSPOSED else value, requirements="C")
        tensors[entry.name] = value
        described[entry.name] = {"shape": list(value.shape), "from": entry.source or None, "layout": entry.layout}
    return tensors, {"names": "torch", "torch_sequential": layout.to_json(), "tensors": described}


def export_weights(
    graph: Any,
    path: Path | str,
    *,
    names: Names = "torch",
    info: Optional[dict] = None,
) -> tuple[Path, Path]:
    """Write PATH (.safetensors) and PATH with suffix .json; return both paths.

    `info` (input_shape, n_classes, class_names, spec model, preprocessing ...) goes into the
    JSON beside the tensor table. The same JSON is the file's header metadata under "bpcli".
    """
    path = Path(path)
    tensors, architecture = export_tensors(graph, names)
    architecture = {"format": FORMAT, **architecture, **(info or {})}
    write_safetensors(path, tensors, architecture)
    json_path = path.with_suffix(".json")
    with atomic_writer(json_path) as f:
        f.write((json.dumps(architecture, indent=2) + "\n").encode("utf-8"))
    return path, json_path
