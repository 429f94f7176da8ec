"""The `fashion-mnist` dataset: Zalando's 70,000 28x28 clothing images from their IDX files."""

from pathlib import Path
from typing import Optional

import numpy as np

from bpcli.data.idx_file import read_idx_shape, read_pair
from bpcli.data.locations import dataset_dirs, locate_dataset
from bpcli.data.registry import DATASETS, SHAPES, RawData
from bpcli.errors import DataError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
HOW_TO_INSTALL = (
    "install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; files land in "
    "/usr/share/datasets/fashion-mnist), or download the four *-ubyte.gz files from "
    "https://github.com/zalandoresearch/fashion-mnist into a folder and set `path:` to it"
)


def _find(folder: Path, stem: str) -> Optional[Path]:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _complete(folder: Path) -> Optional[dict[str, Path]]:
    """The four files in `folder` (gzipped or not), or None when any is missing."""
    found = {key: _find(folder, stem) for key, stem in FILES.items()}
    return found if all(found.values()) else None  # type: ignore[return-value]


def locate(path: Optional[str], base_dir: Optional[Path]) -> dict[str, Path]:
    """The four IDX files: in `path` (relative to the spec's folder) or in a default location."""
    return locate_dataset("fashion-mnist", path, base_dir, default_dirs(), _complete, _incomplete, HOW_TO_INSTALL)


def _incomplete(folder: Path) -> str:
    missing = [stem for stem in FILES.values() if _find(folder, stem) is None]
    return f"fashion-mnist: {folder} does not hold {', '.join(missing)} (.gz or not); {HOW_TO_INSTALL}"


def default_dirs() -> tuple[Path, ...]:
    """Where Debian's `dataset-fashion-mnist` puts the files, the user's datasets folder, then
    `data/fashion` (the layout of the zalandoresearch/fashion-mnist repository)."""
    return dataset_dirs("fashion-mnist", "data/fashion")


@DATASETS.register("fashion-mnist")
def fashion_mnist(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    path: Optional[str] = None,
    flatten: bool = False,
) -> RawData:
    """Fashion-MNIST: 60,000 train + 10,000 test images in [0, 1], (1, 28, 28) or 784 with flatten; 10 classes."""
    files = locate(path, base_dir)
    X, y = read_pair(files["train_images"], files["train_labels"], flatten)
    X_test, y_test = read_pair(files["test_images"], files["test_labels"], flatten)
    return RawData(X, y, X_test, y_test, n_classes=len(CLASS_NAMES), class_names=CLASS_NAMES)


@SHAPES.register("fashion-mnist")
def fashion_mnist_shape(*, base_dir: Optional[Path] = None, path: Optional[str] = None,
                        flatten: bool = False) -> tuple[tuple, int]:
    """(input shape, classes) from the training images' IDX header alone."""
    shape = read_idx_shape(locate(path, base_dir)["train_images"])[1:]
    return ((int(np.prod(shape)),) if flatten else (1, *shape)), len(CLASS_NAMES)
