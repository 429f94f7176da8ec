"""The assignments' models as built-in specs: their architecture and hyperparameters, and that they
train on CIFAR-shaped data read from both real file formats."""

import numpy as np
import pytest
from fake_datasets import CIFAR_BATCHES, cifar_python_batch

from bpcli.training.entry import train_spec
from bpcli.spec import build_model, load_spec


def learnable_cifar(folder, kind, per_batch=40, n_test=40, seed=0):
    """CIFAR-10 files whose images are a per-class template plus noise, so a net can learn them."""
    rng = np.random.default_rng(seed)
    templates = rng.integers(40, 216, (10, 3072))
    out = folder / ("cifar-10-batches-py" if kind == "py" else "cifar-10-batches-bin")
    out.mkdir(parents=True)
    for name in CIFAR_BATCHES:
        n = n_test if name == "test_batch" else per_batch
        labels = rng.integers(0, 10, n)
        pixels = np.clip(templates[labels] + rng.integers(-40, 41, (n, 3072)), 0, 255).astype(np.uint8)
        if kind == "py":
            (out / name).write_bytes(cifar_python_batch(pixels, labels))
        else:
            rec = np.concatenate([labels.astype(np.uint8)[:, None], pixels], axis=1)
            (out / (name + ".bin")).write_bytes(rec.tobytes())
    return out


def test_two_layer_net_is_assignment_1s():
    spec = load_spec("cs231n-two-layer-net")
    model = build_model(spec, (3072,), 10, np.float32)
    shapes = {k: v.shape for k, v in model.graph.params().items()}
    assert sorted(shapes.values()) == [(10,), (100,), (100, 10), (3072, 100)]
    W1 = next(v for v in model.graph.params().values() if v.shape == (3072, 100))
    assert 0.9e-3 < W1.std() < 1.1e-3  # weight_scale 1e-3
    assert spec.optimizer == {"type": "sgd", "lr": 1e-3}
    assert spec.schedule["type"] == "exponential" and spec.schedule["gamma"] == 0.95
    assert (spec.train.batch_size, spec.train.epochs) == (100, 10)
    assert spec.data["subtract_mean"] and spec.data["pixel_range"] == "0-255"


def test_three_layer_convnet_is_assignment_2s():
    spec = load_spec("cs231n-three-layer-convnet")
    model = build_model(spec, (3, 32, 32), 10, np.float32)
    summary = [(name, kind, shape) for name, kind, shape, _ in model.graph.summary()]
    assert [(k, s) for _, k, s in summary] == [
        ("conv2d", (32, 32, 32)), ("relu", (32, 32, 32)), ("maxpool2d", (32, 16, 16)),
        ("dense", (100,)), ("relu", (100,)), ("dense", (10,)),
    ]
    shapes = sorted(v.shape for v in model.graph.params().values())
    assert (32, 3, 7, 7) in shapes and (32 * 16 * 16, 100) in shapes
    assert spec.optimizer["type"] == "adam" and spec.optimizer["lr"] == 1e-3
    assert spec.regularization == {"type": "l2", "strength": 1e-3}
    assert (spec.train.batch_size, spec.train.epochs) == (50, 1)


@pytest.mark.parametrize("kind", ["py", "bin"])
@pytest.mark.parametrize("name, overrides", [
    ("cs231n-two-layer-net", ["train.epochs=8"]),
    ("cs231n-three-layer-convnet", ["train.epochs=2"]),
])
def test_the_assignment_models_train_on_cifar_files(tmp_path, kind, name, overrides):
    folder = learnable_cifar(tmp_path / "data", kind)
    spec = load_spec(name, [f"data.path={folder}", "data.val_fraction=0.1", *overrides])
    run = train_spec(spec, name=name, runs_root=tmp_path / "runs")
    history = run.result.history
    assert history[-1].train_loss < history[0].train_loss - 0.1
    final = history[-1]
    assert final.train_accuracy > 0.5 and final.val_accuracy > 0.3  # chance is 0.1
    assert len(run.data.X_test) == 40 and run.data.input_shape == ((3072,) if "two" in name else (3, 32, 32))


@pytest.mark.parametrize("bad", ["0", "-1e-3", "true", "nosuch"])
def test_init_is_a_name_or_a_positive_weight_scale(bad):
    from bpcli.errors import BpcliError
    from bpcli.spec import load_spec_text

    with pytest.raises(BpcliError, match="init"):
        spec = load_spec_text(f"model:\n  - dense: {{units: 3, init: {bad}}}\n")
        build_model(spec, (4,), 3, np.float32)
