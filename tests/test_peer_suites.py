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


# --- MiniTorch: convolutions and non-square pooling (tests/test_conv.py, tests/test_nn.py) -------


def conv_by_definition(x, W, stride=(1, 1)):
    """out[n, f, h, w] = Σ_c,i,j W[f, c, i, j] · x[n, c, sh·h + i, sw·w + j], loops, no padding."""
    n, c, H, Wd = x.shape
    f, _, kh, kw = W.shape
    ho, wo = (H - kh) // stride[0] + 1, (Wd - kw) // stride[1] + 1
    out = np.zeros((n, f, ho, wo))
    for a in range(n):
        for b in range(f):
            for h in range(ho):
                for w in range(wo):
                    patch = x[a, :, stride[0] * h: stride[0] * h + kh, stride[1] * w: stride[1] * w + kw]
                    out[a, b, h, w] = np.sum(patch * W[b])
    return out


def check_gradients(layer, x):
    """dx and every parameter gradient against central differences, CS231n's relative error < 1e-7."""
    dout = np.random.default_rng(4).standard_normal(layer.forward(x).shape)
    layer.forward(x)
    dx = np.array(layer.backward(dout), copy=True)
    grads = {k: v.copy() for k, v in layer.grads.items()}

    def forward():
        return layer.forward(x)

    assert rel_error(dx, numeric_array(forward, x, dout)) < 1e-7
    for key, g in grads.items():
        assert rel_error(g, numeric_array(forward, layer.params[key], dout)) < 1e-7, key


@pytest.mark.parametrize("kind", ["reference", "fast"])
def test_minitorch_conv2(kind):
    # rows [0, 1, 2, 3] four times, a 2x2 kernel of ones: each window sums 2·(w + w + 1)
    from bpcli.fast import TWINS

    t = np.tile(np.arange(4.0), (4, 1)).reshape(1, 1, 4, 4)
    cls = LAYERS.get("conv2d") if kind == "reference" else TWINS.get("conv2d")
    layer = cls(filters=1, kernel=2, bias=False)
    layer.build((1, 4, 4), np.random.default_rng(0), np.float64)
    layer.params["W"][:] = 1.0
    out = layer.forward(t)
    np.testing.assert_array_equal(out[0, 0], [[2, 6, 10]] * 3)
    check_gradients(layer, t.copy())


@pytest.mark.parametrize("kind", ["reference", "fast"])
def test_minitorch_conv_channel_with_a_2x4_kernel(kind):
    # input (2, 2, 6, 6), weight (3, 2, 2, 4): two input channels, three filters, a non-square kernel
    from bpcli.fast import TWINS

    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 2, 6, 6))
    cls = LAYERS.get("conv2d") if kind == "reference" else TWINS.get("conv2d")
    layer = cls(filters=3, kernel=[2, 4], bias=False)
    assert layer.build((2, 6, 6), rng, np.float64) == (3, 5, 3)
    np.testing.assert_allclose(layer.forward(x), conv_by_definition(x, layer.params["W"]), rtol=1e-12)
    check_gradients(layer, x)


def test_non_square_strides_and_padding_are_the_padded_definition():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 2, 5, 7))
    layer = make("conv2d", (2, 5, 7), filters=2, kernel=[3, 2], stride=[2, 3], padding=[1, 0])
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    out = layer.forward(x)
    assert out.shape == (2, 2, 3, 2)  # H: (5 + 2 - 3) // 2 + 1, W: (7 - 2) // 3 + 1
    expected = conv_by_definition(padded, layer.params["W"], stride=(2, 3)) + layer.params["b"][:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    check_gradients(layer, x)


def test_minitorch_conv1d_multi_channel_batch():
    t = np.arange(12.0).reshape(2, 2, 3)
    layer = make("conv1d", (2, 3), filters=2, kernel=2, bias=False)
    layer.params["W"][:] = np.arange(1.0, 9.0).reshape(2, 2, 2)
    out = layer.forward(t)
    assert out.shape == (2, 2, 2)
    assert out[0, 0, 0] == 0 * 1 + 1 * 2 + 3 * 3 + 4 * 4
    assert out[1, 1, 1] == 7 * 5 + 8 * 6 + 10 * 7 + 11 * 8
    check_gradients(layer, t.copy())


def test_minitorch_conv1d_simple_with_its_right_padding():
    # MiniTorch pads only on the right (output as long as the input): the same as padding k - 1 on
    # both sides with the first k - 1 outputs dropped
    t = np.arange(4.0).reshape(1, 1, 4)
    layer = make("conv1d", (1, 4), filters=1, kernel=3, padding=2, bias=False)
    layer.params["W"][:] = [[[1.0, 2.0, 3.0]]]
    np.testing.assert_array_equal(layer.forward(t)[0, 0, 2:], [0 * 1 + 1 * 2 + 2 * 3, 1 * 1 + 2 * 2 + 3 * 3, 2 * 1 + 3 * 2, 3 * 1])


@pytest.mark.parametrize("kind", ["reference", "fast"])
@pytest.mark.parametrize("pool, reduce", [("avgpool2d", np.mean), ("maxpool2d", np.max)])
def test_minitorch_non_square_pooling(kind, pool, reduce):
    # t (1, 1, 4, 4); windows (2, 2), (2, 1), (1, 2) tile it: out[0, 0, 0, 0] is the first window's
    # mean / max, and so is every other output
    from bpcli.fast import TWINS

    t = np.random.default_rng(13).standard_normal((1, 1, 4, 4))
    for size in ([2, 2], [2, 1], [1, 2]):
        cls = LAYERS.get(pool) if kind == "reference" else TWINS.get(pool)
        layer = cls(size=size)
        kh, kw = size
        assert layer.build((1, 4, 4), None, np.float64) == (1, 4 // kh, 4 // kw)
        out = layer.forward(t)
        for h in range(4 // kh):
            for w in range(4 // kw):
                assert out[0, 0, h, w] == pytest.approx(reduce(t[0, 0, kh * h: kh * h + kh, kw * w: kw * w + kw]), rel=1e-14)
        check_gradients(layer, t.copy())
