"""`bpcli export` and `bpcli import`: a trained run's weights out as .safetensors, and a
.safetensors file into a spec's model as a checkpoint that evaluate and predict use."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from bpcli.errors import DataError, UsageError
from bpcli.weights import export_weights, load_weights
from bpcli.weights.export import Names
from bpcli.weights.files import read_safetensors


def _checked_out(out: Path, force: bool, *inputs: Path) -> None:
    if any(out.resolve() == p.resolve() for p in inputs):
        raise UsageError(f"{out} is an input of this command; choose another output file")
    if out.exists() and not force:
        raise UsageError(f"{out} exists; give --force to replace it")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent} is not a folder")


def export_run(target: Path, out: Path, *, names: Names = "torch", checkpoint: str = "last",
               force: bool = False) -> tuple[Path, Path, Any]:
    """A run directory's (or checkpoint file's) weights to OUT.safetensors and OUT.json."""
    from bpcli.trained.load import load_trained

    if out.suffix != ".safetensors":
        raise UsageError(f"{out}: the weights file must end in .safetensors (its architecture goes beside it as .json)")
    _checked_out(out, force)
    _checked_out(out.with_suffix(".json"), force)
    trained = load_trained(target, checkpoint)
    preprocessing = None
    if trained.mean is not None:
        preprocessing = {"subtract": np.asarray(trained.mean).tolist(), "divide_by": np.asarray(trained.std).tolist()}
    info = {
        "input_shape": list(trained.input_shape),
        "n_classes": trained.n_classes,
        "class_names": trained.checkpoint.meta.get("data", {}).get("class_names"),
        "dtype": np.dtype(trained.model.graph.dtype).name,
        "preprocessing": preprocessing,  # x -> (x - subtract) / divide_by before the model, as in training
        "spec": {"model": trained.spec.to_dict().get("model"), "loss": trained.spec.loss},
    }
    weights, json_path = export_weights(trained.model.graph, out, names=names, info=info)
    return weights, json_path, trained


def _shape_and_classes(spec, architecture: dict) -> tuple[tuple, Optional[int]]:
    """The model's input shape and class count: from the spec's data when it can be found, else
    from the weights file's architecture."""
    from bpcli.data import data_shape
    from bpcli.errors import DataMissing

    try:
        return data_shape(spec.data, base_dir=spec.base_dir, seed=spec.seed)
    except DataMissing:
        if "input_shape" not in architecture:
            raise
        return tuple(architecture["input_shape"]), architecture.get("n_classes")


def import_weights(weights: Path, spec_source: str, overrides: list[str], out: Path, *, force: bool = False) -> dict:
    """Build the spec's model, load the file into it (every name and shape checked), and save it as
    a checkpoint OUT (.npz) with the spec, so `bpcli evaluate OUT` and `bpcli predict OUT` use it."""
    from bpcli.training.checkpoint import Checkpoint, save_checkpoint
    from bpcli.training.setup import model_dtype
    from bpcli.spec import build_model, load_spec

    if out.suffix != ".npz":
        raise UsageError(f"{out}: the checkpoint must end in .npz")
    _checked_out(out, force, weights)
    spec = load_spec(spec_source, overrides)
    _, architecture = read_safetensors(weights)
    input_shape, n_classes = _shape_and_classes(spec, architecture)
    model = build_model(spec, tuple(input_shape), n_classes, model_dtype(spec))
    names = load_weights(model.graph, weights)
    extra = _preprocessing(spec, architecture)
    data_info = {"name": spec.data.get("type"), "n_classes": n_classes, "input_shape": list(input_shape),
                 "task": "classification" if n_classes else "regression",
                 "class_names": architecture.get("class_names")}
    meta = {"spec": spec.to_dict(absolute_paths=True), "data": data_info, "epoch": 0, "step": 0,
            "imported_from": str(weights)}
    graph = model.graph
    save_checkpoint(out, Checkpoint(params={k: v.copy() for k, v in graph.params().items()}, meta=meta,
                                    buffers={k: v.copy() for k, v in graph.buffers().items()}, extra=extra))
    return {"checkpoint": str(out), "names": names, "tensors": len(graph.params()) + len(graph.buffers()),
            "input_shape": list(input_shape), "n_classes": n_classes}


def _preprocessing(spec, architecture: dict) -> dict[str, np.ndarray]:
    """data_mean / data_std for the checkpoint: the file's own (as exported), else the spec's data fitted."""
    pre = architecture.get("preprocessing")
    if isinstance(pre, dict) and "subtract" in pre and "divide_by" in pre:
        try:
            return {"data_mean": np.asarray(pre["subtract"], np.float32), "data_std": np.asarray(pre["divide_by"], np.float32)}
        except (TypeError, ValueError):
            raise DataError("the weights file's preprocessing is not numbers") from None
    if spec.data.get("standardize") or spec.data.get("subtract_mean"):
        from bpcli.data import load_data

        data = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed)
        return {"data_mean": data.mean, "data_std": data.std}
    return {}
