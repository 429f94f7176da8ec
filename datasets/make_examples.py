"""Rebuild the small example datasets in this folder, byte for byte: `python datasets/make_examples.py`.

Every file comes from bpcli's own seeded generators; gzip and zip timestamps are fixed so the
output does not depend on when it is made. `--out DIR` writes somewhere else (the tests do).
"""

from __future__ import annotations

import argparse
import gzip
import io
import struct
import zipfile
from pathlib import Path

import numpy as np

from bpcli.data import DATASETS

HERE = Path(__file__).resolve().parent
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp: reproducible archives


def generate(name: str, seed: int, **options):
    return DATASETS.get(name)(rng=np.random.default_rng(seed), base_dir=None, **options)


def write_csv(path: Path, header: list[str] | None, X: np.ndarray, labels: list[str]) -> None:
    lines = [",".join(header)] if header else []
    lines += [",".join(f"{v:.6f}" for v in row) + f",{label}" for row, label in zip(X.tolist(), labels)]
    path.write_text("\n".join(lines) + "\n")


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez, but with fixed timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: 0, 0, type 0x08, ndim, big-endian sizes, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    path.write_bytes(gzip.compress(idx_bytes(array), mtime=0))


def make_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    spiral = generate("spiral", seed=0)  # the CS231n spiral: 3 classes x 100 points
    write_csv(out / "spiral.csv", ["x1", "x2", "label"], spiral.X, [str(v) for v in spiral.y])

    xor = generate("xor", seed=1, points_per_class=50)  # no header, text labels
    write_csv(out / "xor.csv", None, xor.X, [("same", "different")[v] for v in xor.y])

    train, test = generate("moons", seed=2), generate("moons", seed=3, points_per_class=50)
    write_npz(out / "moons.npz", {"X": train.X, "y": train.y, "X_test": test.X, "y_test": test.y})

    bars = generate("bars", seed=4, images_per_class=20, noise=0.1)  # 60 images, 12 x 12
    pixels = np.clip(np.round(bars.X[:, 0] * 255), 0, 255).astype(np.uint8)
    write_idx_gz(out / "bars-images-idx3-ubyte.gz", pixels)
    write_idx_gz(out / "bars-labels-idx1-ubyte.gz", bars.y.astype(np.uint8))
    return sorted(p for p in out.iterdir() if p.suffix != ".py" and p.name != "README.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write to (default: this one)")
    for path in make_all(parser.parse_args().out):
        print(f"{path.stat().st_size:>7} bytes  {path}")


if __name__ == "__main__":
    main()
