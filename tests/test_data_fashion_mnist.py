"""Fashion-MNIST: a clear message when it is missing; a fake copy via `path:`; the real files when installed."""

import numpy as np
import pytest
from conftest import REAL_DATASETS
from fake_datasets import write_idx

from bpcli.data import data_shape, load_data
from bpcli.data import fashion_mnist as fm
from bpcli.data.locations import ENV
from bpcli.errors import DataError, DataMissing


def fake_fashion(folder, n_train=6, n_test=3):
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", np.full((n_train, 28, 28), 255))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(n_train) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((n_test, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n_test) % 10)
    return folder


def test_missing_path_says_how_to_install(tmp_path):
    with pytest.raises(DataError) as err:
        load_data({"type": "fashion-mnist", "path": "does/not/exist"}, base_dir=tmp_path, seed=0)
    assert "apt-get install dataset-fashion-mnist" in err.value.message
    assert "does/not/exist" in err.value.message and err.value.exit_code == 2


def test_not_installed_anywhere_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    with pytest.raises(DataMissing, match="not installed.*apt-get install dataset-fashion-mnist") as err:
        load_data({"type": "fashion-mnist"}, seed=0)
    assert str(tmp_path / "a" / "fashion-mnist") in err.value.message
    assert "data/fashion" not in err.value.message  # the setting replaces every default place


def test_the_search_path_setting_is_searched_in_order(tmp_path, monkeypatch):
    fake_fashion(tmp_path / "second" / "fashion-mnist", n_train=4)
    fake_fashion(tmp_path / "third" / "fashion-mnist", n_train=8)
    monkeypatch.setenv(ENV, f"{tmp_path / 'first'}:{tmp_path / 'second'}:{tmp_path / 'third'}")
    assert len(load_data({"type": "fashion-mnist"}, seed=0).X_train) == 4


def test_shape_comes_from_the_idx_header_alone(tmp_path):
    folder = fake_fashion(tmp_path / "fm", n_train=5)
    images = folder / "train-images-idx3-ubyte.gz"
    # keep the header, cut every pixel: reading the images would now fail, the header still answers
    import gzip

    images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:16]))
    section = {"type": "fashion-mnist", "path": "fm"}
    assert data_shape(section, base_dir=tmp_path) == ((1, 28, 28), 10)
    assert data_shape({**section, "flatten": True}, base_dir=tmp_path) == ((784,), 10)
    with pytest.raises(DataError, match="truncated"):
        load_data(section, base_dir=tmp_path, seed=0)


def test_folder_with_missing_file_names_it(tmp_path):
    folder = fake_fashion(tmp_path / "fm")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_data({"type": "fashion-mnist", "path": "fm"}, base_dir=tmp_path, seed=0)


def test_fake_copy_at_path_keeps_its_own_split(tmp_path):
    fake_fashion(tmp_path / "fm")
    data = load_data({"type": "fashion-mnist", "path": "fm", "test_fraction": 0.5}, base_dir=tmp_path, seed=0)
    assert data.X_train.shape == (6, 1, 28, 28) and data.X_test.shape == (3, 1, 28, 28)
    assert data.X_train.max() == 1.0 and data.X_test.max() == 0.0  # the files' own split, scaled
    assert data.n_classes == 10 and data.class_names[0] == "T-shirt/top"
    flat = load_data({"type": "fashion-mnist", "path": "fm", "flatten": True}, base_dir=tmp_path, seed=0)
    assert flat.input_shape == (784,)


@pytest.fixture
def installed(monkeypatch):
    """The real dataset where it is installed (the search path the run was started with)."""
    if REAL_DATASETS is None:
        monkeypatch.delenv(ENV)
    else:
        monkeypatch.setenv(ENV, REAL_DATASETS)
    try:
        return fm.locate(None, None)
    except DataMissing:
        pytest.skip("Fashion-MNIST is not installed here (apt-get install dataset-fashion-mnist)")


@pytest.mark.slow  # reads and decompresses 30 MB: a second or two, more on a busy machine
def test_real_fashion_mnist(installed):
    data = load_data({"type": "fashion-mnist", "flatten": True}, seed=0)
    # the published dataset: 60,000 training and 10,000 test images, 6,000 / 1,000 per class
    assert data.X_train.shape == (60000, 784) and data.X_test.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(data.y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(data.y_test), [1000] * 10)
    assert data.X_train.dtype == np.float32 and data.X_train.flags.c_contiguous
    assert data.X_train.min() == 0.0 and data.X_train.max() == 1.0
    assert 0.2 < data.X_train.mean() < 0.4  # mean pixel intensity of Fashion-MNIST is about 0.286
