"""The example files in datasets/: rebuilt byte for byte by make_examples.py, and loadable."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from bpcli.data import load_data

DATASETS_DIR = Path(__file__).resolve().parents[1] / "datasets"
EXAMPLES = ["spiral.csv", "xor.csv", "moons.npz", "bars-images-idx3-ubyte.gz", "bars-labels-idx1-ubyte.gz"]


def make_examples_module():
    spec = importlib.util.spec_from_file_location("make_examples", DATASETS_DIR / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_script_rebuilds_the_committed_files(tmp_path):
    made = make_examples_module().make_all(tmp_path)
    assert sorted(p.name for p in made) == sorted(EXAMPLES)
    for name in EXAMPLES:
        assert (tmp_path / name).read_bytes() == (DATASETS_DIR / name).read_bytes(), name


@pytest.mark.parametrize(
    "section, n, input_shape, n_classes",
    [
        ({"type": "csv", "path": "spiral.csv", "label": "label"}, 300, (2,), 3),
        ({"type": "csv", "path": "xor.csv", "header": False}, 100, (2,), 2),
        ({"type": "npz", "path": "moons.npz"}, 200, (2,), 2),
        ({"type": "idx", "images": "bars-images-idx3-ubyte.gz", "labels": "bars-labels-idx1-ubyte.gz"}, 60, (1, 12, 12), 3),
    ],
)
def test_examples_load(section, n, input_shape, n_classes):
    data = load_data(section, base_dir=DATASETS_DIR, seed=0)
    assert len(data.X_train) == n and data.input_shape == input_shape and data.n_classes == n_classes
    np.testing.assert_array_equal(np.bincount(data.y_train), [n // n_classes] * n_classes)


def test_spiral_csv_is_the_spiral_generator_at_seed_0():
    from_file = load_data({"type": "csv", "path": "spiral.csv"}, base_dir=DATASETS_DIR, seed=0)
    from bpcli.data import DATASETS

    generated = DATASETS.get("spiral")(rng=np.random.default_rng(0), base_dir=None)
    np.testing.assert_allclose(from_file.X_train, generated.X, atol=5e-7)  # 6 decimals in the file
    np.testing.assert_array_equal(from_file.y_train, generated.y)


def test_moons_npz_has_its_own_test_split():
    data = load_data({"type": "npz", "path": "moons.npz", "test_fraction": 0.5}, base_dir=DATASETS_DIR, seed=0)
    assert len(data.X_train) == 200 and len(data.X_test) == 100


def test_xor_csv_text_labels():
    data = load_data({"type": "csv", "path": "xor.csv"}, base_dir=DATASETS_DIR, seed=0)
    assert data.class_names == ("different", "same")
