"""Reading and writing .safetensors files through the safetensors package's NumPy API (no pickle),
with a size budget checked before reading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from bpcli.training.atomic_file import atomic_writer
from bpcli.errors import DataError
from bpcli.input_files import special_kind
from bpcli.memory_budget import over_budget, too_large

MAX_FILE_BYTES = 4 * 2**30  # far above any model bpcli trains; a bigger file is refused unread
FLOAT_KINDS = ("float16", "float32", "float64")
METADATA_KEY = "bpcli"  # the safetensors header's metadata: {"bpcli": JSON of the architecture}


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], architecture: dict) -> None:
    """The tensors (C-contiguous) and the architecture as header metadata, written atomically."""
    from safetensors.numpy import save

    blob = save({k: np.require(v, requirements="C") for k, v in tensors.items()},  # (ascontiguousarray makes 0-d 1-d)
                metadata={METADATA_KEY: json.dumps(architecture, separators=(",", ":"))})
    with atomic_writer(path, fsync=True) as f:
        f.write(blob)


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors, the bpcli architecture from the metadata or {}); DataError for anything unreadable."""
    from safetensors import SafetensorError, safe_open

    kind = special_kind(path)
    if kind is not None:
        raise DataError(f"{path}: is {kind}, not a .safetensors file")
    if not path.is_file():
        raise DataError(f"{path}: no such weights file")
    size = path.stat().st_size
    if too_large(size):
        raise DataError(f"{path}: " + over_budget(size, "its tensors"))
    if size > MAX_FILE_BYTES:
        raise DataError(f"{path}: {size:,} bytes is more than a weights file may be ({MAX_FILE_BYTES:,}); refused unread")
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        raise DataError(f"{path}: not a readable .safetensors file ({err})") from None
    for key, value in tensors.items():
        if key.endswith("num_batches_tracked"):
            continue
        if value.dtype.name not in FLOAT_KINDS:
            raise DataError(f"{path}: tensor {key} is {value.dtype.name}; weights must be float16, float32 or float64")
    architecture: dict[str, Any] = {}
    if METADATA_KEY in metadata:
        try:
            architecture = json.loads(metadata[METADATA_KEY])
        except ValueError:
            architecture = {}
    return tensors, architecture if isinstance(architecture, dict) else {}
