"""A trained model back from disk: a run directory's checkpoint (or a checkpoint file) rebuilt
from the spec recorded inside it, with the training standardization."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Literal, Optional

import numpy as np
import yaml

from bpcli.training.checkpoint import Checkpoint, best_of, load_checkpoint
from bpcli.errors import DataError, UsageError
from bpcli.training.run_dir import RunDir
from bpcli.training.setup import model_dtype

CheckpointKind = Literal["last", "best"]
CHECKPOINT_KINDS = ("last", "best")
DEFAULT_CHECKPOINT: CheckpointKind = "last"  # the weights summary.json's `final` describes


@dataclass
class TrainedModel:
    """A model with its checkpoint's weights, the spec it was trained from, where it came from."""

    model: Any
    spec: Any
    checkpoint: Checkpoint
    checkpoint_path: Path
    n_classes: Optional[int]
    input_shape: tuple
    task: str
    mean: Optional[np.ndarray]
    std: Optional[np.ndarray]
    warnings: List[str] = field(default_factory=list)  # for the user: e.g. spec.yaml disagrees

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Raw inputs -> the model's dtype with the training standardization applied."""
        X = np.array(X, dtype=self.model.graph.dtype, order="C")
        if X.shape[1:] != tuple(self.input_shape):
            raise DataError(f"inputs have {X.shape[1:]} values per example, the model expects {tuple(self.input_shape)}")
        if self.mean is not None:
            X -= self.mean
            X /= self.std
        return X


def checkpoint_of(path: Path, kind: str = DEFAULT_CHECKPOINT) -> tuple[Path, Optional[RunDir]]:
    """(checkpoint file, its run directory or None): a run directory's `kind` checkpoint, or
    a checkpoint file as given."""
    if kind not in CHECKPOINT_KINDS:
        raise UsageError(f"unknown --checkpoint '{kind}'; choose from: {', '.join(CHECKPOINT_KINDS)}")
    if not path.is_dir():
        return path, None
    run = RunDir.existing(path)
    chosen = run.last if kind == "last" else run.best
    if not chosen.is_file():
        other = "best" if kind == "last" else "last"
        raise UsageError(f"{run.path} has no {kind} checkpoint ({chosen} is missing); try --checkpoint {other}")
    return chosen, run


def load_trained(path: Path | str, checkpoint: str = DEFAULT_CHECKPOINT) -> TrainedModel:
    """A run directory (its `checkpoint` = last or best) or a checkpoint file -> TrainedModel."""
    from bpcli.spec import build_model, load_spec_text

    path, run = checkpoint_of(Path(path), checkpoint)
    ck = load_checkpoint(path)
    if run is not None and checkpoint == "best" and run.last.is_file():
        ck = best_of(load_checkpoint(run.last), ck) or ck  # best.npz may trail a save cut short
    if "spec" not in ck.meta or "data" not in ck.meta:
        raise DataError(f"{path}: the checkpoint does not record its spec")
    spec = load_spec_text(yaml.safe_dump(ck.meta["spec"], sort_keys=False), file=f"{path} (spec)")
    info = ck.meta["data"]
    model = build_model(spec, tuple(info["input_shape"]), info["n_classes"], model_dtype(spec))
    params = model.graph.params()
    missing = set(params) - set(ck.params)
    if missing:
        raise DataError(f"{path}: the checkpoint has no weights for {', '.join(sorted(missing))}")
    for k, p in params.items():
        if p.shape != ck.params[k].shape:
            raise DataError(f"{path}: weights {k} have shape {ck.params[k].shape}, the model's are {p.shape}")
        np.copyto(p, ck.params[k])
    for k, b in model.graph.buffers().items():
        if k in ck.buffers:
            np.copyto(b, ck.buffers[k])
    warnings = [] if run is None else spec_mismatch(run, ck, path)
    return TrainedModel(
        model, spec, ck, path, info["n_classes"], tuple(info["input_shape"]), info["task"],
        ck.extra.get("data_mean"), ck.extra.get("data_std"), warnings,
    )


def spec_mismatch(run: RunDir, ck: Checkpoint, path: Path) -> List[str]:
    """A warning when the run's spec.yaml is not the spec its checkpoint was trained from."""
    try:
        on_disk = yaml.safe_load(run.spec_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        return [f"cannot read {run.spec_file} ({err}); using the spec recorded in {path}"]
    if on_disk == ck.meta["spec"]:
        return []
    keys = sorted(k for k in set(on_disk or {}) | set(ck.meta["spec"])
                  if (on_disk or {}).get(k) != ck.meta["spec"].get(k)) if isinstance(on_disk, dict) else []
    differ = f" (they differ in: {', '.join(keys)})" if keys else ""
    return [f"{run.spec_file} does not match the spec recorded in {path}{differ}; "
            "using the checkpoint's own spec"]
