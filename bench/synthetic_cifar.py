"""A deterministic synthetic CIFAR-shaped dataset for the end-to-end convnet runs: 10 classes of
(3, 32, 32) float32 images, each a class pattern at a random small shift plus Gaussian noise, so a
convnet learns it in one epoch while a broken one stays near chance. Saved as an .npz (X, y,
X_test, y_test) that `bpcli train` (data type npz) and the PyTorch twin both read without pickle.

    python bench/synthetic_cifar.py OUT.npz [--train 4000] [--test 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHAPE = (3, 32, 32)
CLASSES = 10
PATTERN_CELL = 4  # each class pattern is random on an 8x8 grid, blown up to 32x32
MAX_SHIFT = 3  # pixels a pattern moves in each direction, so position alone does not tell the class
SIGNAL = 1.5  # pattern amplitude against noise of standard deviation 1: one epoch learns it (tried 0.5, 1.0: some seeds stalled)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same arrays give the same bytes


@dataclass(frozen=True)
class SyntheticSet:
    """How many training and test examples, from which seed."""

    n_train: int = 4000
    n_test: int = 1000
    seed: int = 0

    def file_name(self) -> str:
        return f"synthetic-cifar-{self.n_train}-{self.n_test}-seed{self.seed}.npz"


def class_patterns(rng: np.random.Generator) -> np.ndarray:
    """(CLASSES, 3, 32, 32): unit-variance noise on a coarse grid, each cell PATTERN_CELL pixels wide."""
    coarse = rng.standard_normal((CLASSES, SHAPE[0], SHAPE[1] // PATTERN_CELL, SHAPE[2] // PATTERN_CELL))
    return np.repeat(np.repeat(coarse, PATTERN_CELL, axis=2), PATTERN_CELL, axis=3)


def examples(patterns: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n images (SIGNAL·(a class pattern rolled by up to MAX_SHIFT pixels) + N(0, 1) noise) / sqrt(1 + SIGNAL²),
    float32; labels int64,
    each class n/CLASSES times (the remainder to the first classes), in random order."""
    y = rng.permutation(np.arange(n) % CLASSES).astype(np.int64)
    shifts = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(n, 2))
    X = rng.standard_normal((n, *SHAPE), dtype=np.float32)
    for i in range(n):
        X[i] += SIGNAL * np.roll(patterns[y[i]], tuple(shifts[i]), axis=(1, 2))
    X /= np.float32(np.sqrt(1 + SIGNAL**2))  # unit variance, like standardized CIFAR
    return X, y


def make_arrays(spec: SyntheticSet) -> dict:
    """{"X", "y", "X_test", "y_test"}: the same arrays for the same spec, on any machine."""
    rng = np.random.default_rng(spec.seed)
    patterns = class_patterns(rng)
    X, y = examples(patterns, spec.n_train, rng)
    X_test, y_test = examples(patterns, spec.n_test, rng)
    return {"X": X, "y": y, "X_test": X_test, "y_test": y_test}


def write_npz(path: Path, arrays: dict) -> Path:
    """An uncompressed .npz as np.savez writes it, but with fixed member timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_TIME), member.getvalue())
    return path


def write_synthetic(folder: Path, spec: SyntheticSet) -> Path:
    """The spec's data set as folder/spec.file_name() (written once; kept when already there)."""
    path = Path(folder) / spec.file_name()
    if not path.exists():
        write_npz(path, make_arrays(spec))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="the .npz file to write")
    p.add_argument("--train", type=int, default=SyntheticSet.n_train)
    p.add_argument("--test", type=int, default=SyntheticSet.n_test)
    p.add_argument("--seed", type=int, default=SyntheticSet.seed)
    args = p.parse_args(argv)
    if args.train < CLASSES or args.test < 1:
        p.error(f"--train must be at least {CLASSES} and --test at least 1")
    write_npz(args.out, make_arrays(SyntheticSet(args.train, args.test, args.seed)))
    print(f"wrote {args.out} ({args.train} train + {args.test} test images {SHAPE}, {CLASSES} classes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
