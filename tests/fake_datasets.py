"""Small copies of installable datasets, written in their real file formats, so the real loaders
run in every test without the real data (which a fresh machine does not have)."""

import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """An IDX file as MNIST ships it: 0, 0, type 0x08 (uint8), ndim, big-endian uint32 sizes, the bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def fake_fashion_mnist(folder: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """The four Fashion-MNIST files with n_train / n_test random 28x28 images, labels 0..9 in turn."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(n_train) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n_test) % 10)
    return folder


CIFAR_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")


def _py2_str(data: bytes) -> bytes:
    """A Python 2 `str` as cPickle protocol 2 writes it: SHORT_BINSTRING or BINSTRING."""
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data
    return b"T" + struct.pack("<i", len(data)) + data


def _py2_int(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def cifar_python_batch(pixels: np.ndarray, labels, name: bytes = b"training batch 1 of 5") -> bytes:
    """One batch of CIFAR-10's Python version, byte for byte in the opcodes of the real files (a
    Python 2 cPickle, protocol 2, of {batch_label, labels, data, filenames} with `data` a pickled
    uint8 ndarray: numpy.core.multiarray._reconstruct, then BUILD with the raw pixel bytes)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    n = len(pixels)
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + _py2_int(0) + b"\x85" + _py2_str(b"b")
        + b"\x87R"  # _reconstruct(ndarray, (0,), 'b')
        + b"(" + _py2_int(1) + _py2_int(n) + _py2_int(pixels.shape[1]) + b"\x86"  # version 1, shape (N, 3072)
        + b"cnumpy\ndtype\n" + _py2_str(b"u1") + _py2_int(0) + _py2_int(1) + b"\x87R"  # dtype('u1', 0, 1)
        + b"(" + _py2_int(3) + _py2_str(b"|") + b"NNN" + b"J\xff\xff\xff\xff" * 2 + _py2_int(0) + b"tb"
        + b"\x89" + _py2_str(pixels.tobytes()) + b"tb"  # not Fortran order, the bytes; BUILD
    )
    label_list = b"](" + b"".join(_py2_int(int(v)) for v in labels) + b"e"
    files = b"](" + b"".join(_py2_str(b"image_%05d.png" % i) for i in range(n)) + b"e"
    return (b"\x80\x02}(" + _py2_str(b"batch_label") + _py2_str(name) + _py2_str(b"labels") + label_list
            + _py2_str(b"data") + array + _py2_str(b"filenames") + files + b"u.")


def fake_cifar10(folder: Path, kind: str = "py", per_batch: int = 10, n_test: int = 10, seed: int = 0) -> Path:
    """cifar-10-batches-py/ (or -bin/) in `folder` with per_batch random images in each of the five
    data batches and n_test in test_batch; labels 0..9 in turn."""
    rng = np.random.default_rng(seed)
    out = folder / ("cifar-10-batches-py" if kind == "py" else "cifar-10-batches-bin")
    out.mkdir(parents=True, exist_ok=True)
    for name in CIFAR_BATCHES:
        n = n_test if name == "test_batch" else per_batch
        pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = np.arange(n) % 10
        if kind == "py":
            (out / name).write_bytes(cifar_python_batch(pixels, labels))
        else:
            records = np.concatenate([labels.astype(np.uint8)[:, None], pixels], axis=1)
            (out / (name + ".bin")).write_bytes(records.tobytes())
    return out
