"""CIFAR-10 from both real distributions, written small by the tests: the binary records and the
Python version's pickles (read without running them), the official split, the course's options."""

import os
import pickle

import numpy as np
import pytest
from fake_datasets import CIFAR_BATCHES, cifar_python_batch, fake_cifar10

from bpcli.data import data_shape, load_data
from bpcli.data.cifar10 import read_binary_batch, read_python_batch
from bpcli.data.cifar_pickle import read_batch
from bpcli.data.locations import ENV
from bpcli.errors import DataError, DataMissing


def _known_pixels(n: int) -> np.ndarray:
    """Image i: red plane all i, green plane all 100 + i, blue plane 200 + (pixel index % 50)."""
    px = np.empty((n, 3, 1024), dtype=np.uint8)
    for i in range(n):
        px[i, 0], px[i, 1], px[i, 2] = i, 100 + i, 200 + np.arange(1024) % 50
    return px.reshape(n, 3072)


@pytest.mark.parametrize("kind", ["py", "bin"])
def test_both_formats_give_the_same_images_in_channel_row_column_order(tmp_path, kind):
    folder = fake_cifar10(tmp_path, kind=kind, per_batch=4, n_test=3)
    px = _known_pixels(4)
    if kind == "py":
        (folder / "data_batch_1").write_bytes(cifar_python_batch(px, [9, 0, 1, 2]))
    else:
        rec = np.concatenate([np.array([[9], [0], [1], [2]], np.uint8), px], axis=1)
        (folder / "data_batch_1.bin").write_bytes(rec.tobytes())
    data = load_data({"type": "cifar10", "path": str(folder), "pixel_range": "0-255"}, seed=0)
    assert data.input_shape == (3, 32, 32) and data.n_classes == 10
    assert len(data.X_train) == 20 and len(data.X_test) == 3  # 5 batches of 4; test_batch kept apart
    assert data.class_names[0] == "airplane" and data.class_names[9] == "truck"
    # no val, no max_examples: the training pool in file order, data_batch_1 first
    first = data.X_train[:4]
    np.testing.assert_array_equal(data.y_train[:4], [9, 0, 1, 2])
    assert first[2, 0, 5, 7] == 2 and first[2, 1, 31, 31] == 102  # red plane = i, green = 100 + i
    assert first[3, 2, 1, 3] == 200 + (32 + 3) % 50  # blue: row 1, column 3 is pixel 35 of its plane


def test_python_and_binary_versions_of_the_same_data_load_equal(tmp_path):
    a = load_data({"type": "cifar10", "path": str(fake_cifar10(tmp_path / "a", "py", seed=5))}, seed=1)
    b = load_data({"type": "cifar10", "path": str(fake_cifar10(tmp_path / "b", "bin", seed=5))}, seed=1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_train.max() <= 1.0 and a.X_train.dtype == np.float32  # default pixel_range 0-1


def test_path_may_name_the_batches_folder_or_the_folder_holding_it(tmp_path):
    fake_cifar10(tmp_path / "extracted", kind="bin")
    for path in ("extracted", "extracted/cifar-10-batches-bin"):
        assert len(load_data({"type": "cifar10", "path": path}, base_dir=tmp_path, seed=0).X_train) == 50


def test_val_fraction_and_max_examples_cut_the_training_pool_and_keep_the_test_batch(tmp_path):
    fake_cifar10(tmp_path, per_batch=20, n_test=7)
    data = load_data({"type": "cifar10", "path": str(tmp_path), "val_fraction": 0.1, "max_examples": 40}, seed=0)
    assert (len(data.X_train), len(data.X_val), len(data.X_test)) == (36, 4, 7)
    data = load_data({"type": "cifar10", "path": str(tmp_path), "val_fraction": 0.02}, seed=0)
    assert (len(data.X_train), len(data.X_val)) == (98, 2)


def test_flatten_gives_3072_features(tmp_path):
    fake_cifar10(tmp_path)
    data = load_data({"type": "cifar10", "path": str(tmp_path), "flatten": True}, seed=0)
    assert data.input_shape == (3072,)
    assert data_shape({"type": "cifar10", "path": str(tmp_path), "flatten": True}) == ((3072,), 10)


def test_subtract_mean_removes_the_train_splits_mean_image_only(tmp_path):
    fake_cifar10(tmp_path, per_batch=8, n_test=5)
    raw = load_data({"type": "cifar10", "path": str(tmp_path), "pixel_range": "0-255", "val_fraction": 0.25}, seed=3)
    centred = load_data({"type": "cifar10", "path": str(tmp_path), "pixel_range": "0-255", "val_fraction": 0.25,
                         "subtract_mean": True}, seed=3)
    mean_image = raw.X_train.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(centred.X_train, raw.X_train - mean_image, atol=1e-3)
    np.testing.assert_allclose(centred.X_val, raw.X_val - mean_image, atol=1e-3)
    np.testing.assert_allclose(centred.X_test, raw.X_test - mean_image, atol=1e-3)
    np.testing.assert_array_equal(centred.std, 1.0)  # no scaling: predict reuses (x - mean) / 1


def test_missing_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path / "nothing"))
    with pytest.raises(DataMissing, match="cifar10 is not installed.*cifar.html.*get_datasets.sh"):
        load_data({"type": "cifar10"}, seed=0)
    with pytest.raises(DataMissing, match="no folder"):
        load_data({"type": "cifar10", "path": "nope"}, base_dir=tmp_path, seed=0)
    (tmp_path / "half").mkdir()
    with pytest.raises(DataError, match="holds neither data_batch_1..5"):
        load_data({"type": "cifar10", "path": "half"}, base_dir=tmp_path, seed=0)


def test_the_search_path_finds_an_installed_copy(tmp_path, monkeypatch):
    fake_cifar10(tmp_path / "cifar-10", kind="bin", per_batch=3)
    monkeypatch.setenv(ENV, str(tmp_path))
    assert len(load_data({"type": "cifar10"}, seed=0).X_train) == 15


def test_binary_file_that_is_not_whole_records_is_refused(tmp_path):
    bad = tmp_path / "data_batch_1.bin"
    bad.write_bytes(b"\x00" * (3073 * 2 + 5))
    with pytest.raises(DataError, match="not a whole number of 3073-byte"):
        read_binary_batch(bad)
    bad.write_bytes(b"\x0a" + b"\x00" * 3072)
    with pytest.raises(DataError, match="label 10 of image 0 is not a CIFAR-10 class"):
        load_data({"type": "cifar10", "path": str(_folder_with(tmp_path, bad))}, seed=0)


def _folder_with(tmp_path, bad):
    folder = fake_cifar10(tmp_path / "set", kind="bin")
    (folder / "data_batch_3.bin").write_bytes(bad.read_bytes())
    return folder


def test_an_oversized_batch_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from bpcli.data import cifar10

    monkeypatch.setattr(cifar10, "MAX_BATCH_BYTES", 3073 * 2)
    big = tmp_path / "data_batch_1.bin"
    big.write_bytes(b"\x00" * 3073 * 3)
    with pytest.raises(DataError, match="more than a CIFAR-10 batch can be.*refused before reading"):
        read_binary_batch(big)


# --- the restricted unpickler ----------------------------------------------------------------


class _Marker:
    """Pickles as a call to os.system that would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_a_malicious_pickle_is_refused_and_nothing_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"data": _Marker(marker), "labels": [0]}, protocol=protocol)
    batch = tmp_path / "data_batch_1"
    batch.write_bytes(payload)
    with pytest.raises(DataError, match=r"refused to unpickle the global (posix|os)\.system"):
        read_python_batch(batch)
    assert not marker.exists()
    pickle.loads(payload)  # the payload is real: plain pickle would have run it
    assert marker.exists()


def test_globals_outside_the_array_format_are_refused_even_numpy_ones(tmp_path):
    for module, name in (("builtins", "eval"), ("numpy", "load"), ("numpy.core.multiarray", "scalar"),
                         ("_codecs", "encode"), ("subprocess", "Popen")):
        payload = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n)R."
        with pytest.raises(DataError, match=f"refused to unpickle the global {module}.{name}"):
            read_batch(payload, "x")


def test_an_array_of_another_dtype_is_refused(tmp_path):
    good = cifar_python_batch(np.zeros((2, 3072), np.uint8), [0, 1])
    for dtype in (b"O8", b"f8", b"i1"):
        bad = good.replace(b"U\x02u1", b"U" + bytes([len(dtype)]) + dtype)
        with pytest.raises(DataError, match="refused to unpickle an array of dtype"):
            read_batch(bad, "x")


def test_damaged_pickles_are_data_errors_not_tracebacks():
    good = cifar_python_batch(np.zeros((2, 3072), np.uint8), [0, 1])
    for bad in (good[:50], good[:-2], b"", b"not a pickle"):
        with pytest.raises(DataError):
            read_batch(bad, "x")
    short = good.replace(b"T" + (6144).to_bytes(4, "little"), b"T" + (6143).to_bytes(4, "little")).replace(
        b"\x00" * 6144, b"\x00" * 6143)
    with pytest.raises(DataError, match=r"shape \(2, 3072\) but 6143 bytes"):
        read_batch(short, "x")
    labels_wrong = cifar_python_batch(np.zeros((2, 3072), np.uint8), [0])
    with pytest.raises(DataError, match="2 images but 1 labels"):
        read_batch(labels_wrong, "x")


def test_a_python3_resave_of_a_batch_also_reads(tmp_path):
    # someone re-pickled a batch with Python 3 (protocol 3: bytes as BINBYTES, the same array globals)
    px = np.arange(3 * 3072).reshape(3, 3072).astype(np.uint8)
    payload = pickle.dumps({b"data": px, b"labels": [1, 2, 3], b"batch_label": b"x"}, protocol=3)
    X, y = read_batch(payload, "x")
    np.testing.assert_array_equal(X, px)
    np.testing.assert_array_equal(y, [1, 2, 3])


def test_every_fake_batch_name_is_the_real_one():
    assert CIFAR_BATCHES == tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def test_images_beyond_the_memory_budget_are_refused_before_conversion(tmp_path, monkeypatch):
    from bpcli.data import cifar10

    fake_cifar10(tmp_path)
    monkeypatch.setattr(cifar10, "too_large", lambda n_bytes: n_bytes >= 50 * 3072 * 4)
    with pytest.raises(DataError, match="50 images as float32 would take .* more than the memory"):
        load_data({"type": "cifar10", "path": str(tmp_path)}, seed=0)


def test_a_fifo_in_place_of_a_batch_is_named(tmp_path):
    fifo = tmp_path / "data_batch_1.bin"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="is a FIFO"):
        read_binary_batch(fifo)


def test_a_relative_path_given_to_a_builtin_spec_is_found_in_the_working_directory(tmp_path, monkeypatch):
    # the built-in spec's own folder is inside the package: `data.path=cifar-10-batches-py`
    # typed at the shell means the folder in the working directory, as for data files
    from typer.testing import CliRunner

    from bpcli.cli import app

    fake_cifar10(tmp_path / "cifar-10-batches-py", kind="py", per_batch=3, n_test=2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV, str(tmp_path / "nothing-installed"))
    result = CliRunner().invoke(app, ["show", "cs231n-two-layer-net", "data.path=cifar-10-batches-py"],
                                env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.stderr
    assert "input (N, 3072), 10 classes" in result.stdout
