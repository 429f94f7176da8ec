"""The end-to-end bench's synthetic CIFAR-shaped data and the two convnet configs on it: the file is
the same bytes every time, bpcli's spec and the PyTorch twin's reader load the same arrays, and both
build the same model. No timing here; torch parts skip without torch.
"""

from __future__ import annotations

import dataclasses
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from bpcli.data import load_data
from bpcli.spec.build import build_model
from bpcli.spec.load import load_spec
from bpcli.training.options import TrainOptions

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # bench/ is not installed; `python -m pytest` from the checkout has it anyway

from bench import e2e, run  # noqa: E402
from bench import torch_fashion_mnist as twin  # noqa: E402
from bench.synthetic_cifar import CLASSES, SHAPE, SyntheticSet, make_arrays, sha256, write_npz, write_synthetic  # noqa: E402
SMALL = SyntheticSet(n_train=200, n_test=100, seed=0)
SYNTHETIC = {cfg.name: cfg for cfg in e2e.CONFIGS if cfg.synthetic is not None}
# (layer shapes of the model each config describes: conv weights (F, C, kh, kw), dense (D, units))
PARAMETER_SHAPES = {
    "convnet3": [(32, 3, 7, 7), (32,), (32 * 16 * 16, 100), (100,), (100, 10), (10,)],
    "conv4": [(32, 3, 3, 3), (32,), (32, 32, 3, 3), (32,), (64, 32, 3, 3), (64,), (64, 64, 3, 3), (64,),
              (64 * 8 * 8, 10), (10,)],
}


@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("synthetic"), SMALL)


def test_the_file_is_the_same_bytes_for_the_same_set_and_differs_for_another_seed(tmp_path, small_file):
    again = write_npz(tmp_path / "again.npz", make_arrays(SMALL))
    other = write_npz(tmp_path / "other.npz", make_arrays(dataclasses.replace(SMALL, seed=1)))
    assert again.read_bytes() == small_file.read_bytes()
    assert sha256(again) == sha256(small_file)
    assert other.read_bytes() != small_file.read_bytes()
    with zipfile.ZipFile(small_file) as archive:  # no clock time inside: the earliest date a zip member can have
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_the_arrays_are_cifar_shaped_balanced_and_plain(small_file):
    with np.load(small_file, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["X", "X_test", "y", "y_test"]
        X, y, X_test, y_test = (archive[k] for k in ("X", "y", "X_test", "y_test"))
    assert X.shape == (200, *SHAPE) and X_test.shape == (100, *SHAPE) == (100, 3, 32, 32)
    assert X.dtype == X_test.dtype == np.float32 and y.dtype == y_test.dtype == np.int64
    assert np.bincount(y, minlength=CLASSES).tolist() == [20] * 10
    assert np.bincount(y_test, minlength=CLASSES).tolist() == [10] * 10
    assert abs(float(X.mean())) < 0.05 and abs(float(X.std()) - 1.0) < 0.05  # standardized, like CIFAR after preprocessing


def test_the_class_signal_is_learnable_and_the_labels_carry_it(small_file):
    """Nearest class mean of the training images labels most test images (chance is 10%);
    with the training labels shuffled it is back near chance."""
    with np.load(small_file, allow_pickle=False) as archive:
        X, y = archive["X"].reshape(200, -1), archive["y"]
        X_test, y_test = archive["X_test"].reshape(100, -1), archive["y_test"]

    def nearest_mean_accuracy(labels: np.ndarray) -> float:
        means = np.stack([X[labels == c].mean(axis=0) for c in range(CLASSES)])
        distances = ((X_test[:, None, :] - means[None]) ** 2).sum(axis=-1)
        return float((distances.argmin(axis=1) == y_test).mean())

    assert nearest_mean_accuracy(y) >= 0.8
    assert nearest_mean_accuracy(np.random.default_rng(1).permutation(y)) <= 0.3


@pytest.mark.parametrize("name", ["convnet3", "conv4"])
def test_bpcli_and_the_twin_read_the_same_arrays(name, small_file):
    cfg = SYNTHETIC[name]
    spec = load_spec(REPO / cfg.config, [f"data.path={small_file}"])
    data = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed)
    X, y, X_test, y_test = twin.load_arrays(REPO / cfg.config, {"type": "npz", "path": str(small_file)})
    assert data.input_shape == X.shape[1:] == SHAPE and data.n_classes == CLASSES
    assert data.X_val is None  # no validation split: the test split is the file's own
    np.testing.assert_array_equal(data.X_train, X)
    np.testing.assert_array_equal(data.y_train, y)
    np.testing.assert_array_equal(data.X_test, X_test)
    np.testing.assert_array_equal(data.y_test, y_test)


@pytest.mark.parametrize("name", ["convnet3", "conv4"])
def test_each_spec_is_the_step_bench_model_with_a_users_default_training(name, small_file):
    """The bpcli model's parameters are the case's layer shapes; the train section sets only
    epochs and batch (no threads, no kernels: what `bpcli train CONFIG` does by default)."""
    cfg = SYNTHETIC[name]
    spec = load_spec(REPO / cfg.config, [f"data.path={small_file}"])
    model = build_model(spec, SHAPE, CLASSES)
    shapes = sorted(tuple(p.shape) for p in model.params().values())
    assert shapes == sorted(PARAMETER_SHAPES[name])
    assert model.scores(np.zeros((2, *SHAPE), np.float32)).shape == (2, CLASSES)
    assert dataclasses.replace(spec.train, epochs=TrainOptions.epochs, batch_size=None) == TrainOptions()
    assert spec.train.epochs == 1 and spec.train.batch_size == {"convnet3": 50, "conv4": 64}[name]
    assert cfg.target_loop_ratio == 1.5


@pytest.mark.parametrize("name", ["convnet3", "conv4"])
def test_the_twin_builds_the_same_model(name):
    torch = pytest.importorskip("torch")
    cfg = SYNTHETIC[name]
    spec = yaml.safe_load((REPO / cfg.config).read_text(encoding="utf-8"))
    model, weights, largest = twin.build_model(spec, SHAPE, torch)
    shapes = []
    for p in model.parameters():
        shape = tuple(p.shape)
        shapes.append(shape[::-1] if len(shape) == 2 else shape)  # torch's Linear weight is (units, D)
    assert sorted(shapes) == sorted(PARAMETER_SHAPES[name])
    assert len(weights) == sum(len(s) > 1 for s in PARAMETER_SHAPES[name])
    assert largest == 32 * 32 * 32  # the first convolution's output per example
    assert tuple(model(torch.zeros(2, *SHAPE)).shape) == (2, CLASSES)


def test_the_twin_refuses_a_pickled_npz(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, X=np.array([{"a": 1}], dtype=object), y=np.zeros(1), X_test=np.zeros((1, 1)), y_test=np.zeros(1))
    with pytest.raises(ValueError, match="pickle"):
        twin.read_npz(path)


def test_the_bench_options_name_every_end_to_end_config():
    assert run.E2E_CONFIGS == e2e.CONFIG_NAMES
    assert {"convnet3", "conv4"} <= set(e2e.CONFIG_NAMES)
    args = run.parse_args(["--only", "e2e", "--e2e-config", "convnet3", "--e2e-config", "conv4"])
    assert args.e2e_config == ["convnet3", "conv4"]


@pytest.mark.slow
def test_a_synthetic_config_runs_end_to_end_on_the_bpcli_side(monkeypatch, tmp_path):
    """The whole e2e path without torch on a tiny set: the file is written, bpcli trains on it
    through data.path, and the run records the file's checksum."""
    tiny = SyntheticSet(n_train=64, n_test=20, seed=0)
    monkeypatch.setattr(e2e, "CONFIGS", (dataclasses.replace(SYNTHETIC["conv4"], synthetic=tiny),))
    result = e2e.bench_end_to_end(use_torch=False, repeats=1)
    (only,) = result["runs"]
    bpcli = only["sides"]["bpcli"]
    assert "note" not in bpcli, bpcli
    assert bpcli["epochs"] == 1 and 0.0 <= bpcli["test_accuracy"] <= 1.0 and bpcli["train_seconds"] > 0
    assert "torch" not in only["sides"] and "torch side skipped" in only["note"]
    assert not any(o.startswith("data.path=") for o in only["overrides"])  # the temp file is not a user override
    assert only["synthetic_data"]["sha256"] == sha256(write_npz(tmp_path / "tiny.npz", make_arrays(tiny)))


def test_a_fashion_mnist_config_is_skipped_by_name_without_the_dataset(monkeypatch, tmp_path):
    monkeypatch.setattr(e2e, "DATASET_DIR", tmp_path / "absent")
    result = e2e.bench_end_to_end(use_torch=False, repeats=1, only=("mlp", "cnn"))
    assert [(r["name"], r["sides"]) for r in result["runs"]] == [("mlp", {}), ("cnn", {})]
    assert all("Fashion-MNIST missing" in r["note"] for r in result["runs"])
