"""The `cifar10` dataset: 60,000 32x32 colour images in 10 classes, from either real distribution.

- binary (`cifar-10-batches-bin/`): `data_batch_1.bin` ... `data_batch_5.bin`, `test_batch.bin`,
  each record one label byte then 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue, rows
  of 32), read with NumPy directly;
- Python (`cifar-10-batches-py/`, what CS231n's get_datasets.sh downloads): `data_batch_1` ...
  `data_batch_5`, `test_batch`, pickles read by `cifar_pickle` without running them.
The official split is kept: the five data batches are the training pool (val_fraction and
max_examples cut from it), test_batch is the test split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import numpy as np

from bpcli.data.cifar_pickle import read_batch
from bpcli.data.locations import dataset_dirs, locate_dataset
from bpcli.data.registry import DATASETS, SHAPES, RawData
from bpcli.errors import DataError
from bpcli.input_files import special_kind
from bpcli.memory_budget import over_budget, too_large

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (3, 32, 32)
RECORD_BYTES = 1 + 3072  # binary version: label byte + pixels
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
FOLDERS = {"bin": "cifar-10-batches-bin", "py": "cifar-10-batches-py"}
# A real batch is 30.7 MB (binary) or 31.0 MB (pickle): a file far larger is not a CIFAR batch,
# and is refused before it is read.
MAX_BATCH_BYTES = 64 * 2**20
HOW_TO_GET = (
    "download the Python or binary version from https://www.cs.toronto.edu/~kriz/cifar.html "
    "(or run CS231n's get_datasets.sh), extract it, and set `path:` to the folder "
    "cifar-10-batches-py or cifar-10-batches-bin (or the folder holding it)"
)

PixelRange = Literal["0-1", "0-255"]


def _files(folder: Path, kind: str) -> Optional[dict[str, Path]]:
    """{batch name: file} when `folder` holds all six batches of `kind`, else None."""
    suffix = ".bin" if kind == "bin" else ""
    found = {name: folder / (name + suffix) for name in TRAIN_BATCHES + (TEST_BATCH,)}
    return found if all(f.is_file() for f in found.values()) else None


def _in_folder(folder: Path) -> Optional[tuple[str, dict[str, Path]]]:
    """(kind, files) for a batches folder or a folder holding one (the Python version first)."""
    for kind in ("py", "bin"):
        for candidate in (folder, folder / FOLDERS[kind]):
            files = _files(candidate, kind)
            if files is not None:
                return kind, files
    return None


def default_dirs() -> tuple[Path, ...]:
    """The installed-datasets folders, then where CS231n's assignments keep it (cs231n/datasets)."""
    return dataset_dirs("cifar-10", "cs231n/datasets", "datasets")


def locate(path: Optional[str], base_dir: Optional[Path]) -> tuple[str, dict[str, Path]]:
    """(kind "py" or "bin", {batch: file}) from `path` (relative to the spec's folder) or a usual place."""
    return locate_dataset("cifar10", path, base_dir, default_dirs(), _in_folder, _incomplete, HOW_TO_GET)


def _incomplete(folder: Path) -> str:
    return (f"cifar10: {folder} holds neither data_batch_1..5 + test_batch (Python version) nor "
            f"data_batch_1..5.bin + test_batch.bin (binary version), directly or in "
            f"{FOLDERS['py']}/ or {FOLDERS['bin']}/; {HOW_TO_GET}")


def _read_bytes(file: Path) -> bytes:
    kind = special_kind(file)
    if kind is not None:
        raise DataError(f"{file}: is {kind}, not a CIFAR-10 batch file")
    try:
        size = file.stat().st_size
        if size > MAX_BATCH_BYTES:
            raise DataError(f"{file}: {size:,} bytes is more than a CIFAR-10 batch can be "
                            f"(at most {MAX_BATCH_BYTES:,}); refused before reading")
        return file.read_bytes()
    except OSError as err:
        raise DataError(f"{file}: cannot read: {err.strerror or err}") from None


def read_binary_batch(file: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 3072) uint8, labels (N,) int64) from a binary batch: N records of label byte + pixels."""
    raw = np.frombuffer(_read_bytes(file), np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise DataError(f"{file}: {raw.size:,} bytes is not a whole number of {RECORD_BYTES}-byte "
                        "CIFAR-10 records (label byte + 3,072 pixels)")
    records = raw.reshape(-1, RECORD_BYTES)
    return records[:, 1:], records[:, 0].astype(np.int64)


def read_python_batch(file: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 3072) uint8, labels (N,) int64) from a pickled batch, through the safe unpickler."""
    return read_batch(_read_bytes(file), str(file))


def _images(pixels: np.ndarray, pixel_range: str, flatten: bool) -> np.ndarray:
    """uint8 (N, 3072) -> float32 (N, 3, 32, 32) or (N, 3072), in [0, 1] or [0, 255]."""
    n_bytes = pixels.size * 4
    if too_large(n_bytes):
        raise DataError("cifar10: " + over_budget(n_bytes, f"{len(pixels):,} images as float32"))
    scale = np.float32(1.0 / 255.0 if pixel_range == "0-1" else 1.0)
    X = np.multiply(pixels, scale, dtype=np.float32)
    return X if flatten else X.reshape(-1, *IMAGE_SHAPE)


def _labels(y: np.ndarray, file: Path) -> np.ndarray:
    bad = (y < 0) | (y >= len(CLASS_NAMES))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{file}: label {int(y[i])} of image {i} is not a CIFAR-10 class (0..9)")
    return y


def read_batches(kind: str, files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Every image and label of `files`, joined: uint8 (N, 3072), int64 (N,)."""
    read = read_binary_batch if kind == "bin" else read_python_batch
    parts = [read(f) for f in files]
    labels = [_labels(y, f) for (_, y), f in zip(parts, files)]
    return np.concatenate([p for p, _ in parts]), np.concatenate(labels)


@DATASETS.register("cifar10")
def cifar10(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    path: Optional[str] = None,
    flatten: bool = False,
    pixel_range: PixelRange = "0-1",
) -> RawData:
    """CIFAR-10: 50,000 train + 10,000 test images (3, 32, 32), or 3072 with flatten; 10 classes."""
    kind, files = locate(path, base_dir)
    pixels, y = read_batches(kind, [files[name] for name in TRAIN_BATCHES])
    test_pixels, y_test = read_batches(kind, [files[TEST_BATCH]])
    X = _images(pixels, pixel_range, flatten)
    X_test = _images(test_pixels, pixel_range, flatten)
    return RawData(X, y, X_test, y_test, n_classes=len(CLASS_NAMES), class_names=CLASS_NAMES)


@SHAPES.register("cifar10")
def cifar10_shape(*, base_dir: Optional[Path] = None, path: Optional[str] = None, flatten: bool = False,
                  pixel_range: PixelRange = "0-1") -> tuple[tuple, int]:
    """(input shape, classes) once the files are found, without reading them."""
    locate(path, base_dir)
    return ((int(np.prod(IMAGE_SHAPE)),) if flatten else IMAGE_SHAPE), len(CLASS_NAMES)
