"""Decided conventions: dropout with p = 1, and batchnorm's three ways of keeping running statistics
(bpcli's, torch's unbiased variance, CS231n's running_var starting at 0), each from the formula and,
where torch is installed, against torch itself."""

import numpy as np
import pytest

import bpcli.nn.layers  # noqa: F401
from bpcli.fast import TWINS
from bpcli.nn.layer import LAYERS


def built(name, shape, cls=None, **options):
    layer = (cls or LAYERS.get(name))(**options)
    layer.build(shape, np.random.default_rng(0), np.float64)
    return layer


@pytest.mark.parametrize("kind", ["reference", "fast"])
def test_dropout_p_1_drops_everything_in_training_and_nothing_in_eval(kind):
    cls = LAYERS.get("dropout") if kind == "reference" else TWINS.get("dropout")
    layer = built("dropout", (4,), cls, p=1.0)
    x = np.random.default_rng(1).standard_normal((3, 4))
    out = layer.forward(x)
    assert np.all(out == 0) and np.all(np.isfinite(out))
    assert np.all(layer.backward(np.ones_like(x)) == 0)
    layer.training = False
    np.testing.assert_array_equal(layer.forward(x), x)


def test_dropout_p_1_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((3, 4))
    drop = torch.nn.Dropout(p=1.0)
    assert np.all(drop(torch.from_numpy(x)).numpy() == 0)
    drop.eval()
    np.testing.assert_array_equal(drop(torch.from_numpy(x)).numpy(), x)


@pytest.mark.parametrize("convention", ["bpcli", "torch", "cs231n"])
def test_batchnorm_running_statistics_conventions(convention):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3)) * 2 + 1
    layer = built("batchnorm", (3,), momentum=0.9, running_stats=convention)
    start = 0.0 if convention == "cs231n" else 1.0
    np.testing.assert_array_equal(layer.buffers["running_var"], start)
    out = layer.forward(x)
    n = len(x)
    biased = x.var(axis=0)
    batch_var = biased * n / (n - 1) if convention == "torch" else biased
    np.testing.assert_allclose(layer.buffers["running_var"], 0.9 * start + 0.1 * batch_var, rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-12)
    # training itself always normalizes with the batch's biased variance
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(biased + 1e-5), rtol=1e-12)


def test_batchnorm_torch_convention_matches_torch_over_several_steps():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    layer = built("batchnorm", (2, 3, 3), momentum=0.9, running_stats="torch")
    bn = torch.nn.BatchNorm2d(2, momentum=0.1).double()
    for _ in range(3):
        x = rng.standard_normal((4, 2, 3, 3)) * 3 - 1
        layer.forward(x)
        bn(torch.from_numpy(x))
    np.testing.assert_allclose(layer.buffers["running_var"], bn.running_var.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_mean"], bn.running_mean.numpy(), rtol=1e-12)
    layer.training = False
    bn.eval()
    x = rng.standard_normal((2, 2, 3, 3))
    np.testing.assert_allclose(layer.forward(x), bn(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
