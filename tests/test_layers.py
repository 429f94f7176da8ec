"""Every registered layer against central differences, plus each layer's forward against the math."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import bpcli.nn.layers  # noqa: F401  (registers the built-in layers)
from bpcli.errors import ShapeError, SpecError
from bpcli.nn.init import INITIALIZERS
from bpcli.nn.layer import LAYERS, Layer
from bpcli.registry import UnknownName
from central_differences import numerical_gradient

BATCH = 4
MAX_CROSSED_FRACTION = 0.1  # kink crossings skipped per array; more means the test inputs are bad


def _cases():
    for name, cls in LAYERS.items():
        for i, (options, shape) in enumerate(cls.examples):
            yield pytest.param(name, options, shape, id=f"{name}-{i}")


def _build(name, options, shape, dtype, seed=0):
    layer = LAYERS.get(name)(**options)
    layer.name = name
    rng = np.random.default_rng(seed)
    multi = layer.n_inputs != 1
    layer.build([tuple(s) for s in shape] if multi else tuple(shape), rng, dtype)
    shapes = list(shape) if multi else [shape]
    xs = [rng.standard_normal((BATCH,) + tuple(s)).astype(dtype) for s in shapes]
    return layer, xs, rng


def _run(layer, xs):
    if layer.stochastic:
        layer.rng = np.random.default_rng(7)  # the same noise on every pass
    return layer.forward(*xs) if layer.n_inputs != 1 else layer.forward(xs[0])


def _as_tuple(dx, n):
    return tuple(dx) if n != 1 else (dx,)


@pytest.mark.parametrize("name,options,shape", list(_cases()))
def test_layer_gradients_match_central_differences(name, options, shape):
    layer, xs, rng = _build(name, options, shape, np.float64)
    for k, p in layer.params.items():  # move away from the neutral init (gamma=1, b=0 ...)
        p += 0.3 * rng.standard_normal(p.shape)
    out = _run(layer, xs)
    dout = rng.standard_normal(out.shape)
    dout_before = dout.copy()

    dxs = [np.array(d, copy=True) for d in _as_tuple(layer.backward(dout), layer.n_inputs)]
    grads = {k: layer.grads[k].copy() for k in layer.params}
    assert np.array_equal(dout, dout_before), "backward modified dout"

    # backward twice: the same gradients (assigned, not accumulated)
    dxs_again = _as_tuple(layer.backward(dout), layer.n_inputs)
    for a, b in zip(dxs, dxs_again):
        np.testing.assert_array_equal(a, b)
    for k in layer.params:
        np.testing.assert_array_equal(grads[k], layer.grads[k])

    def f():
        return float(np.sum(_run(layer, xs) * dout))

    kinks = layer.kink_state if layer.kink_state() is not None else None
    targets = [(f"dx{i}", x, dx) for i, (x, dx) in enumerate(zip(xs, dxs))]
    targets += [(k, layer.params[k], grads[k]) for k in layer.params]
    for label, array, analytic in targets:
        assert analytic.shape == array.shape, label
        numeric, crossed = numerical_gradient(f, array, kinks=kinks)
        assert crossed.mean() <= MAX_CROSSED_FRACTION, f"{label}: too many kink crossings"
        keep = ~crossed
        np.testing.assert_allclose(analytic[keep], numeric[keep], rtol=1e-5, atol=1e-8, err_msg=label)


@pytest.mark.parametrize("name,options,shape", list(_cases()))
def test_float32_stays_float32_and_eval_caches_nothing(name, options, shape):
    layer, xs, rng = _build(name, options, shape, np.float32)
    assert all(p.dtype == np.float32 for p in layer.params.values())
    out = _run(layer, xs)
    assert out.dtype == np.float32
    dxs = _as_tuple(layer.backward(np.ones_like(out)), layer.n_inputs)
    assert all(d.dtype == np.float32 for d in dxs if d is not None)
    assert all(layer.grads[k].dtype == np.float32 for k in layer.params)
    layer.training = False
    _run(layer, xs)
    # an eval-mode forward keeps no cache, so backward has nothing to work from and says so
    with pytest.raises(RuntimeError, match="backward called without a training-mode forward"):
        layer.backward(np.ones_like(out))


def test_every_layer_has_a_one_line_docstring_and_typed_defaulted_options():
    from bpcli.registry import options_of

    for name, cls in LAYERS.items():
        doc = (cls.__doc__ or "").strip()
        assert doc and "\n" not in doc, name
        for opt, p in options_of(cls).items():
            assert p.default is not p.empty and p.annotation is not p.empty, (name, opt)


def test_registry_lists_every_family():
    expected = {"dense", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "dropout", "batchnorm",
                "layernorm", "conv2d", "maxpool2d", "avgpool2d", "flatten", "add", "concat"}
    assert expected <= set(LAYERS.names())
    assert LAYERS.get("dense").shorthand == "units"
    assert LAYERS.get("conv2d").shorthand == "filters"
    assert LAYERS.get("dropout").shorthand == "p"
    assert LAYERS.get("dense").weight_params == ("W",)
    assert LAYERS.get("batchnorm").weight_params == ()


# --- forwards against the math -------------------------------------------------------------

def test_dense_flattens_its_input_like_cs231n_affine():
    layer, _, _ = _build("dense", {"units": 3}, (2, 2), np.float64)
    W, b = layer.params["W"], layer.params["b"]
    b[:] = [1.0, 2.0, 3.0]
    x = np.arange(8.0).reshape(2, 2, 2)
    out = layer.forward(x)
    for n in range(2):
        expected = [sum(x[n].ravel()[d] * W[d, u] for d in range(4)) + b[u] for u in range(3)]
        np.testing.assert_allclose(out[n], expected)
    assert layer.backward(np.ones((2, 3))).shape == (2, 2, 2)


def test_activation_values():
    x = np.array([[-2.0, -0.5, 0.5, 3.0]])

    def fwd(name, **opts):
        layer = LAYERS.get(name)(**opts)
        layer.build((4,), np.random.default_rng(0), np.float64)
        return layer.forward(x)[0]

    np.testing.assert_allclose(fwd("relu"), [0, 0, 0.5, 3.0])
    np.testing.assert_allclose(fwd("leaky_relu", alpha=0.1), [-0.2, -0.05, 0.5, 3.0])
    np.testing.assert_allclose(fwd("elu", alpha=2.0), [2 * (np.exp(-2) - 1), 2 * (np.exp(-0.5) - 1), 0.5, 3.0])
    np.testing.assert_allclose(fwd("sigmoid"), 1 / (1 + np.exp(-x[0])))
    np.testing.assert_allclose(fwd("tanh"), np.tanh(x[0]))
    e = np.exp(x[0])
    np.testing.assert_allclose(fwd("softmax"), e / e.sum())


def test_sigmoid_and_softmax_do_not_overflow():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = LAYERS.get("sigmoid")()
        np.testing.assert_allclose(s.forward(np.array([[-1000.0, 1000.0]], dtype=np.float32)), [[0.0, 1.0]])
        sm = LAYERS.get("softmax")()
        np.testing.assert_allclose(sm.forward(np.array([[1000.0, 1000.0]])), [[0.5, 0.5]])


def test_relu_kink_state_is_the_mask_of_the_last_forward():
    relu = LAYERS.get("relu")()
    relu.forward(np.array([[-1.0, 2.0]]))
    first = relu.kink_state()
    relu.forward(np.array([[1.0, 2.0]]))
    assert first.tolist() == [[False, True]]  # not overwritten by the next forward
    assert relu.kink_state().tolist() == [[True, True]]


def _naive_conv(x, W, b, stride, pad):
    n, c, h, w = x.shape
    f, _, k, _ = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    out = np.zeros((n, f, ho, wo))
    for i in range(n):
        for j in range(f):
            for r in range(ho):
                for s in range(wo):
                    patch = xp[i, :, r * stride : r * stride + k, s * stride : s * stride + k]
                    out[i, j, r, s] = np.sum(patch * W[j]) + b[j]
    return out


@pytest.mark.parametrize("stride,pad,hw", [(1, 0, (5, 5)), (1, 1, (4, 6)), (2, 1, (5, 6)), (3, 2, (7, 7))])
def test_conv2d_forward_matches_a_loop(stride, pad, hw):
    layer = LAYERS.get("conv2d")(filters=3, kernel=3, stride=stride, padding=pad)
    out_shape = layer.build((2,) + hw, np.random.default_rng(1), np.float64)
    layer.params["b"][:] = [0.5, -1.0, 2.0]
    x = np.random.default_rng(2).standard_normal((2, 2) + hw)
    out = layer.forward(x)
    expected = _naive_conv(x, layer.params["W"], layer.params["b"], stride, pad)
    assert out.shape[1:] == out_shape == expected.shape[1:]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size,stride", [(2, None), (3, 1), (2, 1), (3, 2)])
def test_pooling_forwards_match_a_loop(size, stride):
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 6))
    s = size if stride is None else stride
    ho, wo = (7 - size) // s + 1, (6 - size) // s + 1
    for name, reduce in (("maxpool2d", np.max), ("avgpool2d", np.mean)):
        layer = LAYERS.get(name)(size=size, stride=stride)
        assert layer.build((3, 7, 6), np.random.default_rng(0), np.float64) == (3, ho, wo)
        out = layer.forward(x)
        expected = np.zeros((2, 3, ho, wo))
        for r in range(ho):
            for c in range(wo):
                expected[:, :, r, c] = reduce(x[:, :, r * s : r * s + size, c * s : c * s + size], axis=(2, 3))
        np.testing.assert_allclose(out, expected)


def test_maxpool_routes_the_gradient_to_the_max():
    layer = LAYERS.get("maxpool2d")(size=2)
    layer.build((1, 2, 2), np.random.default_rng(0), np.float64)
    layer.forward(np.array([[[[1.0, 5.0], [3.0, 2.0]]]]))
    dx = layer.backward(np.array([[[[7.0]]]]))
    assert dx.tolist() == [[[[0.0, 7.0], [0.0, 0.0]]]]


def test_batchnorm_normalizes_per_feature_and_tracks_running_stats():
    bn = LAYERS.get("batchnorm")(momentum=0.9)
    bn.build((3,), np.random.default_rng(0), np.float64)
    x = np.random.default_rng(4).standard_normal((50, 3)) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.0]
    out = bn.forward(x)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), 1, rtol=1e-4)
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(bn.buffers["running_var"], 0.9 + 0.1 * x.var(axis=0))
    bn.training = False
    expected = (x - bn.buffers["running_mean"]) / np.sqrt(bn.buffers["running_var"] + 1e-5)
    np.testing.assert_allclose(bn.forward(x), expected)


def test_spatial_batchnorm_uses_channel_statistics():
    bn = LAYERS.get("batchnorm")()
    bn.build((2, 3, 3), np.random.default_rng(0), np.float64)
    x = np.random.default_rng(5).standard_normal((4, 2, 3, 3)) + np.array([3.0, -3.0])[None, :, None, None]
    out = bn.forward(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-3)


def test_layernorm_normalizes_each_example():
    ln = LAYERS.get("layernorm")()
    ln.build((6,), np.random.default_rng(0), np.float64)
    x = np.random.default_rng(6).standard_normal((3, 6)) * 4 + 2
    out = ln.forward(x)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), 1, rtol=1e-4)


def test_dropout_is_inverted_and_identity_in_eval():
    d = LAYERS.get("dropout")(p=0.25)
    d.rng = np.random.default_rng(0)
    x = np.ones((200, 50), dtype=np.float32)
    out = d.forward(x)
    assert set(np.unique(out).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert abs((out == 0).mean() - 0.25) < 0.02
    d.training = False
    assert np.array_equal(d.forward(x), x)


def test_concat_and_add_shapes():
    cat = LAYERS.get("concat")()
    assert cat.build([(2, 4, 4), (3, 4, 4)], None, np.float64) == (5, 4, 4)
    with pytest.raises(ShapeError, match=r"\(2, 4, 4\), \(3, 5, 4\)"):
        cat.build([(2, 4, 4), (3, 5, 4)], None, np.float64)
    with pytest.raises(ShapeError, match=r"\(3,\), \(4,\)"):
        LAYERS.get("add")().build([(3,), (4,)], None, np.float64)


def test_conv_needs_images_and_windows_must_fit():
    with pytest.raises(ShapeError, match=r"\(C, H, W\).*\(10,\)"):
        LAYERS.get("conv2d")(filters=2).build((10,), np.random.default_rng(0), np.float64)
    with pytest.raises(ShapeError, match="does not fit"):
        LAYERS.get("maxpool2d")(size=4).build((1, 3, 3), np.random.default_rng(0), np.float64)


@pytest.mark.parametrize("name,options", [
    ("dense", {"units": 0}), ("dropout", {"p": 1.5}), ("dropout", {"p": -0.1}), ("conv2d", {"kernel": 0}),
    ("conv2d", {"padding": -1}), ("batchnorm", {"eps": 0.0}), ("maxpool2d", {"size": 0}),
])
def test_bad_options_are_spec_errors(name, options):
    with pytest.raises(SpecError, match=list(options)[0]):
        LAYERS.get(name)(**options)


def test_unknown_initializer_suggests_the_close_one():
    with pytest.raises(UnknownName, match="did you mean 'xavier'"):
        LAYERS.get("dense")(init="xavir")


def test_initializer_scales_and_seeding():
    rng = np.random.default_rng
    he = INITIALIZERS.get("he")((400, 300), 400, 300, rng(0), np.float64)
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.02 * np.sqrt(2 / 400)
    xa = INITIALIZERS.get("xavier")((400, 300), 400, 300, rng(0), np.float64)
    assert abs(xa.std() - np.sqrt(1 / 400)) < 0.02 * np.sqrt(1 / 400)
    small = INITIALIZERS.get("small")((400, 300), 400, 300, rng(0), np.float32)
    assert small.dtype == np.float32 and abs(small.std() - 0.01) < 0.0002
    assert not INITIALIZERS.get("zeros")((3, 2), 3, 2, rng(0), np.float64).any()
    # one seed, the same weights in float32 and float64
    a = INITIALIZERS.get("he")((5, 4), 5, 4, rng(9), np.float32)
    b = INITIALIZERS.get("he")((5, 4), 5, 4, rng(9), np.float64)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_user_layer_on_the_base_class_works_with_defaults():
    class Double(Layer):
        def forward(self, x):
            return 2 * x

        def backward(self, dout):
            return 2 * dout

    layer = Double()
    assert layer.build((3,), None, np.float64) == (3,)
    assert layer.kink_state() is None and layer.buffers == {}


def test_softmax_rows_far_apart_each_sum_to_one():
    sm = LAYERS.get("softmax")()
    out = sm.forward(np.array([[0.0, 1.0], [-300.0, -301.0]], dtype=np.float32))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out[1], [1 / (1 + math.exp(-1)), 1 - 1 / (1 + math.exp(-1))], rtol=1e-6)


def test_kink_crossings_are_detected_not_hidden():
    relu = LAYERS.get("relu")()
    x = np.array([[0.0, 1.0, -2.0]])
    dout = np.ones((1, 3))
    relu.forward(x)
    analytic = relu.backward(dout).copy()
    numeric, crossed = numerical_gradient(lambda: float(np.sum(relu.forward(x) * dout)), x, kinks=relu.kink_state)
    assert crossed.tolist() == [[True, False, False]]
    assert numeric[0, 0] == pytest.approx(0.5) and analytic[0, 0] == 0.0  # why the entry is skipped
    np.testing.assert_allclose(analytic[~crossed], numeric[~crossed])


def test_maxpool_ties_send_the_gradient_to_one_entry():
    layer = LAYERS.get("maxpool2d")(size=2)
    layer.build((1, 2, 2), None, np.float64)
    layer.forward(np.full((1, 1, 2, 2), 3.0))
    dx = layer.backward(np.array([[[[1.0]]]]))
    assert dx.sum() == 1.0 and dx[0, 0, 0, 0] == 1.0


def test_dense_bias_gradient_follows_the_batch_size_from_step_to_step():
    """db = Σ_i dout_i (a cached ones vector times dout): right for each batch size in turn."""
    rng = np.random.default_rng(5)
    dense = LAYERS.get("dense")(units=3)
    dense.build((4,), rng, np.float32)
    for batch in (6, 2, 6, 9):
        x = rng.standard_normal((batch, 4)).astype(np.float32)
        dout = rng.standard_normal((batch, 3)).astype(np.float32)
        dense.forward(x)
        dense.backward(dout)
        exact = dout.astype(np.float64).sum(axis=0)
        assert dense.grads["b"].dtype == np.float32
        np.testing.assert_allclose(dense.grads["b"], exact, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dense.grads["W"], x.astype(np.float64).T @ dout, rtol=1e-5, atol=1e-5)
