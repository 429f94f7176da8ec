"""load_weights: a .safetensors file's tensors into a model, every name and shape checked first.

The names are torch state_dict names (what `bpcli export` writes by default, and what
`model.state_dict()` of the equivalent torch.nn.Sequential holds) or bpcli's own; a file made by
bpcli says which in its metadata, any other file is matched against both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bpcli.errors import DataError
from bpcli.weights.export import model_arrays
from bpcli.weights.files import read_safetensors
from bpcli.weights.torch_layout import TRANSPOSED, torch_layout


def _shape(s: tuple) -> str:
    return "(" + ", ".join(str(d) for d in s) + ("," if len(s) == 1 else "") + ")"


def _expected(graph: Any, names: str) -> dict[str, tuple[str, bool, tuple]]:
    """{file name: (bpcli array name, transposed, shape in the file)}; counters map to ""."""
    arrays = model_arrays(graph)
    if names == "bpcli":
        return {k: (k, False, v.shape) for k, v in arrays.items()}
    out = {}
    for entry in torch_layout(graph).entries:
        if entry.kind == "counter":
            out[entry.name] = ("", False, ())
            continue
        shape = arrays[entry.source].shape
        transposed = entry.layout == TRANSPOSED
        out[entry.name] = (entry.source, transposed, shape[::-1] if transposed else shape)
    return out


def _which_names(tensors: dict, architecture: dict, graph: Any) -> str:
    declared = architecture.get("names")
    if declared in ("torch", "bpcli"):
        return declared
    return "bpcli" if set(tensors) <= set(model_arrays(graph)) else "torch"


def load_weights(graph: Any, path: Path | str) -> str:
    """Copy the file's tensors into the graph's params and buffers (cast to the model's dtype);
    return which names the file used. DataError listing every missing, unexpected or misshapen
    tensor; nothing is copied unless all fit."""
    path = Path(path)
    tensors, architecture = read_safetensors(path)
    names = _which_names(tensors, architecture, graph)
    expected = _expected(graph, names)
    problems = []
    for name, (source, transposed, shape) in expected.items():
        if name not in tensors:
            if source:  # torch's num_batches_tracked may be absent
                problems.append(f"missing {name} (the model's {source}, shape {_shape(shape)})")
            continue
        found = tuple(tensors[name].shape)
        if source and found != tuple(shape):
            layout = " as torch's (out, in)" if transposed else ""
            problems.append(f"{name}: shape {_shape(found)} in the file, the model's {source} needs {_shape(shape)}{layout}")
        elif source and not np.all(np.isfinite(tensors[name])):
            problems.append(f"{name}: holds NaN or inf")
    for name in tensors:
        if name not in expected:
            problems.append(f"unexpected {name} (shape {_shape(tuple(tensors[name].shape))}): the model has no such {'tensor' if names == 'bpcli' else 'state_dict entry'}")
    if problems:
        listed = "\n  ".join(problems)
        raise DataError(f"{path} does not fit this model ({names} names; {len(problems)} problem(s)):\n  {listed}")
    arrays = model_arrays(graph)
    for name, (source, transposed, _) in expected.items():
        if source and name in tensors:
            value = tensors[name].T if transposed else tensors[name]
            np.copyto(arrays[source], value, casting="unsafe")
    return names
