"""Cases from other projects' test suites for the layers they needed, reproduced with references
from the math (exact or high-precision arithmetic) or central differences, never from bpcli:
CS231n's group-norm notebook cells, SciPy's softmax / log_softmax over other axes, MiniTorch's
non-square pooling and convolution tests."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

import numpy as np
import pytest

import bpcli.nn.layers  # noqa: F401  (registers)
from bpcli.nn.layer import LAYERS
from central_differences import numerical_gradient


def make(name, input_shape, dtype=np.float64, **options):
    layer = LAYERS.get(name)(**options)
    layer.build(tuple(input_shape), np.random.default_rng(0), dtype)
    return layer


def numeric(f, x):
    """df/dx by central differences (h = 1e-5), entry by entry."""
    return numerical_gradient(f, x)[0]


def numeric_array(forward, x, dout, h=1e-5):
    """d(Σ forward() · dout)/dx as the CS231n notebooks take it: Σ (forward(x+h) - forward(x-h)) · dout / 2h,
    the two outputs subtracted before the sum (no cancellation in a large total)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        plus = forward().copy()
        x[idx] = old - h
        minus = forward().copy()
        x[idx] = old
        grad[idx] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def rel_error(a, b):
    """CS231n's relative error: max |a - b| / max(1e-8, |a| + |b|)."""
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


# --- CS231n: group normalization (assignment 2, the "Group Normalization" cells) ---------------


def test_cs231n_spatial_groupnorm_forward_cell():
    # N, C, H, W = 2, 6, 4, 5; G = 2; x = 4·randn + 10; gamma = 1, beta = 0: every group of
    # every example comes out with mean 0 and std 1 (up to eps)
    rng = np.random.RandomState(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 4 * rng.randn(N, C, H, W) + 10
    layer = make("spatial_groupnorm", (C, H, W), groups=G)
    out = layer.forward(x)
    out_g = out.reshape(N * G, -1)
    var = x.reshape(N * G, -1).var(axis=1)
    np.testing.assert_allclose(out_g.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out_g.std(axis=1), np.sqrt(var / (var + 1e-5)), rtol=1e-12)  # = 1 - O(eps/var)
    np.testing.assert_allclose(out_g.std(axis=1), 1, atol=1e-6)
    # and each group separately: channels 0-2 of example 1 are one group, normalized together
    block = x[1, 0:3]
    np.testing.assert_allclose(out[1, 0:3], (block - block.mean()) / np.sqrt(block.var() + 1e-5), rtol=1e-12)


def test_cs231n_spatial_groupnorm_gradient_cell():
    # x = 5·randn + 12, gamma and beta randn (per channel), dout randn: dx, dgamma, dbeta against
    # numeric gradients; the notebook expects relative errors of 1e-12 to 1e-7
    rng = np.random.RandomState(231)  # the notebook's np.random.seed(231): the same draws, in its order
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 5 * rng.randn(N, C, H, W) + 12
    layer = make("spatial_groupnorm", (C, H, W), groups=G)
    layer.params["gamma"][:] = rng.randn(1, C, 1, 1).reshape(C)
    layer.params["beta"][:] = rng.randn(1, C, 1, 1).reshape(C)
    dout = rng.randn(N, C, H, W)
    layer.forward(x)
    dx = layer.backward(dout).copy()

    def forward():
        return layer.forward(x)

    assert rel_error(dx, numeric_array(forward, x, dout)) < 1e-7
    assert rel_error(layer.grads["gamma"], numeric_array(forward, layer.params["gamma"], dout)) < 1e-7
    assert rel_error(layer.grads["beta"], numeric_array(forward, layer.params["beta"], dout)) < 1e-7


def test_groupnorm_on_features_with_one_group_is_layernorm_and_with_c_groups_is_instance_norm():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 2, 2)) * 3 + 1
    one = make("groupnorm", (4, 2, 2), groups=1).forward(x)
    flat = x.reshape(3, -1)
    np.testing.assert_allclose(one.reshape(3, -1), (flat - flat.mean(1, keepdims=True))
                               / np.sqrt(flat.var(1, keepdims=True) + 1e-5), rtol=1e-12)
    each = make("groupnorm", (4, 2, 2), groups=4).forward(x)
    per = x.reshape(12, -1)
    np.testing.assert_allclose(each.reshape(12, -1), (per - per.mean(1, keepdims=True))
                               / np.sqrt(per.var(1, keepdims=True) + 1e-5), rtol=1e-12)


def test_groupnorm_refuses_groups_that_do_not_divide_the_channels():
    from bpcli.errors import ShapeError

    with pytest.raises(ShapeError, match="6 channels do not split into 4 groups"):
        make("spatial_groupnorm", (6, 2, 2), groups=4)


# --- SciPy: softmax and log_softmax over other axes (scipy/special/tests/test_softmax.py,
#     test_log_softmax.py), references from 60-digit decimal arithmetic ------------------------


def exact_softmax(rows):
    """softmax of each row, e^(x_i) / Σ_j e^(x_j), with 60 significant digits."""
    getcontext().prec = 60
    out = []
    for row in rows:
        exps = [Decimal(v).exp() for v in row]
        total = sum(exps)
        out.append([float(e / total) for e in exps])
    return np.array(out)


def exact_log_softmax(rows):
    getcontext().prec = 60
    out = []
    for row in rows:
        lse = sum(Decimal(v).exp() for v in row).ln()
        out.append([float(Decimal(v) - lse) for v in row])
    return np.array(out)


SCIPY_X = np.array([[-25.0, 0.0, 25.0, 50.0], [1.0, 325.0, 749.0, 750.0]])


@pytest.mark.parametrize("layer_name, exact", [("softmax", exact_softmax), ("log_softmax", exact_log_softmax)])
def test_scipy_multi_axes_cases(layer_name, exact):
    expected = exact(SCIPY_X)
    # one example holding SciPy's 2x4 matrix: SciPy's axis 1 is the layer's axis 2 (or -1) ...
    for axis in (2, -1):
        out = make(layer_name, (2, 4), axis=axis).forward(SCIPY_X[None])
        np.testing.assert_allclose(out[0], expected, rtol=1e-13, atol=0 if layer_name == "log_softmax" else 1e-300)
    # ... and softmax(x.T, axis=0) is the layer's axis 1 on the transpose
    out = make(layer_name, (4, 2), axis=1).forward(SCIPY_X.T[None])
    np.testing.assert_allclose(out[0], expected.T, rtol=1e-13)
    # the 3-D case with a tuple of axes: x reshaped (2, 2, 2), softmax over its last two axes
    x3 = SCIPY_X.reshape(1, 2, 2, 2)
    out = make(layer_name, (2, 2, 2), axis=[2, 3]).forward(x3)
    np.testing.assert_allclose(out.reshape(2, 4), expected, rtol=1e-13)
    # [[1000, 0], [1000, 0]] over SciPy's axis 0 is 0.5 everywhere, over axis 1 [1, 0] (log: [0, -1000])
    big = np.array([[[1000.0, 0.0], [1000.0, 0.0]]])
    down = make(layer_name, (2, 2), axis=1).forward(big)[0]
    across = make(layer_name, (2, 2), axis=2).forward(big)[0]
    if layer_name == "softmax":
        np.testing.assert_allclose(down, 0.5, rtol=1e-13)
        np.testing.assert_allclose(across, [[1, 0], [1, 0]], rtol=1e-13)
    else:
        np.testing.assert_allclose(down, math.log(0.5), rtol=1e-13)
        np.testing.assert_allclose(across, [[0, -1000], [0, -1000]], rtol=1e-13)


@pytest.mark.parametrize("axis, shape", [(1, (3, 4)), (2, (3, 4)), ([1, 2], (3, 4)), (-1, (2, 2, 3))])
def test_log_softmax_gradient_over_other_axes(axis, shape):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, *shape))
    layer = make("log_softmax", shape, axis=axis)
    dout = rng.standard_normal(x.shape)
    layer.forward(x)
    dx = layer.backward(dout)
    assert rel_error(dx, numeric(lambda: float(np.sum(layer.forward(x) * dout)), x)) < 1e-7


@pytest.mark.parametrize("axis, shape", [(2, (3, 4)), ([1, 2], (3, 4)), (-1, (2, 2, 3))])
def test_softmax_gradient_over_other_axes(axis, shape):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, *shape))
    layer = make("softmax", shape, axis=axis)
    dout = rng.standard_normal(x.shape)
    layer.forward(x)
    dx = layer.backward(dout)
    assert rel_error(dx, numeric(lambda: float(np.sum(layer.forward(x) * dout)), x)) < 1e-7
    assert np.allclose(layer.forward(x).sum(axis=tuple(np.atleast_1d(axis))), 1.0)


def test_the_batch_axis_is_refused():
    from bpcli.errors import ShapeError

    for name in ("softmax", "log_softmax"):
        with pytest.raises(ShapeError, match="axis 0 is the batch axis"):
            make(name, (3, 4), axis=0)
        with pytest.raises(ShapeError, match="axis 3 does not exist in inputs \\(N, 3, 4\\)"):
            make(name, (3, 4), axis=3)
