"""Checkpoints: one .npz with weights, buffers, optimizer and schedule state, RNG states and
the run's position; written to a temporary file and renamed into place, read without pickle.

Layout inside the .npz (every entry a plain array; text is a 0-d unicode array):
  param/<name>, buffer/<name>, optim/<key>, sched/<key>, extra/<key>
  bestparam/<name>, bestbuffer/<name>   (last only) the best weights so far, unless they are
                                        the weights above (meta best_is_current)
  meta   JSON text: epoch, step, position in the epoch, resolved spec, tracking state;
         `best_record` {epoch, digest} in last.npz names the best weights it holds, `record` in
         best.npz the ones that file holds
  rng    JSON text: {name: numpy bit_generator.state} (exact: JSON keeps Python ints whole)

A set stays consistent at every instant because last.npz alone is complete: it carries the
best weights itself, and best.npz (written after it, a copy for evaluate/predict/export) is
trusted only when its record matches the one in last.npz (`best_of`).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict

import numpy as np

from bpcli.training.atomic_file import atomic_writer
from bpcli.errors import DataError

Arrays = Dict[str, np.ndarray]
SECTIONS = {
    "param": "params", "buffer": "buffers", "optim": "optimizer", "sched": "schedule", "extra": "extra",
    "bestparam": "best_params", "bestbuffer": "best_buffers",
}


@dataclass
class Checkpoint:
    """Everything needed to continue a run exactly, or to use its model."""

    params: Arrays
    meta: Dict[str, Any]
    buffers: Arrays = field(default_factory=dict)
    optimizer: Arrays = field(default_factory=dict)
    schedule: Arrays = field(default_factory=dict)
    extra: Arrays = field(default_factory=dict)
    rng: Dict[str, Any] = field(default_factory=dict)
    best_params: Arrays = field(default_factory=dict)
    best_buffers: Arrays = field(default_factory=dict)


def weights_digest(params: Arrays, buffers: Arrays) -> str:
    """A content hash of a set of weights (names, dtypes, shapes and bytes)."""
    h = hashlib.blake2b(digest_size=16)
    for prefix, arrays in (("param", params), ("buffer", buffers)):
        for name in sorted(arrays):
            a = np.ascontiguousarray(arrays[name])
            h.update(f"{prefix}/{name}:{a.dtype.str}:{a.shape}".encode())
            h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def best_of(last: Checkpoint, best: Checkpoint | None) -> Checkpoint | None:
    """The best weights of a run as a Checkpoint: `best` when its record matches the one
    `last` carries, else the copy inside `last` (best.npz was older: a save was cut short).
    None when the run has no best weights yet."""
    record = last.meta.get("best_record")
    if record is None:  # a checkpoint from before records: trust best.npz as it is
        return best
    if best is not None and best.meta.get("record") == record:
        return best
    meta = dict(last.meta, kind="best", record=record)
    if last.meta.get("best_is_current"):
        return Checkpoint(params=last.params, buffers=last.buffers, meta=meta, extra=last.extra)
    return Checkpoint(params=last.best_params, buffers=last.best_buffers, meta=meta, extra=last.extra)


def rng_state(rng: np.random.Generator) -> Dict[str, Any]:
    """A Generator's bit_generator state as JSON-able data."""
    return _jsonable(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: Dict[str, Any]) -> None:
    """Put a saved state back into a Generator (same bit generator kind)."""
    rng.bit_generator.state = state


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_checkpoint(path: Path | str, checkpoint: Checkpoint) -> Path:
    """Write atomically (a temporary file in the same directory, fsync, os.replace), with the
    mode of any other new file (0o666 minus the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: Arrays = {}
    for prefix, attr in SECTIONS.items():
        for key, value in getattr(checkpoint, attr).items():
            arrays[f"{prefix}/{key}"] = np.asarray(value)
    arrays["meta"] = np.array(json.dumps(_jsonable(checkpoint.meta)))
    arrays["rng"] = np.array(json.dumps(_jsonable(checkpoint.rng)))
    with atomic_writer(path, fsync=True) as f:
        np.savez(f, **arrays)
    return path


def load_checkpoint(path: Path | str) -> Checkpoint:
    """Read a checkpoint with allow_pickle=False; a clear DataError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            contents = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"{path}: not a readable bpcli checkpoint ({err})") from None
    if "meta" not in contents or "rng" not in contents:
        raise DataError(f"{path}: not a bpcli checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(contents.pop("meta")))
        rng = json.loads(str(contents.pop("rng")))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: damaged checkpoint metadata ({err})") from None
    sections: Dict[str, Arrays] = {attr: {} for attr in SECTIONS.values()}
    for key, value in contents.items():
        prefix, _, name = key.partition("/")
        if prefix in SECTIONS:
            sections[SECTIONS[prefix]][name] = value
    return Checkpoint(meta=meta, rng=rng, **sections)
