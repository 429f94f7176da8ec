"""The fast twins of conv2d / maxpool2d / avgpool2d (bpcli/fast/conv.py, pooling.py) against loops and central differences.

The fast paths (stride-1 dx on the padded grid, forward as shifted GEMMs, tiling pools,
channel-last memory passed between layers, buffers reused across steps) are checked against
straightforward loops over the definition, in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

from bpcli.fast import TWINS as LAYERS  # the fast twins, under the name the tests read
from central_differences import numerical_gradient


def _conv_loop(x, W, b, stride, pad):
    """out[n, f, h, w] = Σ W[f] · window + b[f], by explicit loops."""
    n, c, hh, ww = x.shape
    f, _, k, _ = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (hh + 2 * pad - k) // stride + 1, (ww + 2 * pad - k) // stride + 1
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            win = xp[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, :, i, j] = np.tensordot(win, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def _conv_grads_loop(x, W, dout, stride, pad):
    """(dx, dW, db) of the conv by scattering each window's share, loop by loop."""
    n, c, hh, ww = x.shape
    f, _, k, _ = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dW = np.zeros_like(W)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            sl = (slice(None), slice(None), slice(i * stride, i * stride + k), slice(j * stride, j * stride + k))
            g = dout[:, :, i, j]  # (N, F)
            dW += np.tensordot(g, xp[sl], axes=([0], [0]))
            dxp[sl] += np.tensordot(g, W, axes=([1], [0]))
    return dxp[:, :, pad : pad + hh, pad : pad + ww], dW, dout.sum(axis=(0, 2, 3))


def _conv(options, shape, batch, seed=0):
    layer = LAYERS.get("conv2d")(**options)
    rng = np.random.default_rng(seed)
    layer.build(shape, rng, np.float64)
    layer.params["b"] = rng.standard_normal(layer.params["b"].shape)
    return layer, rng


CONV_CASES = [
    ({"filters": 4, "kernel": 3, "padding": 1}, (3, 7, 6)),
    ({"filters": 2, "kernel": 3, "padding": 0}, (2, 6, 6)),
    ({"filters": 3, "kernel": 2, "padding": 3}, (1, 4, 5)),  # padding larger than kernel - 1
    ({"filters": 2, "kernel": 3, "stride": 2, "padding": 1}, (2, 7, 8)),
    ({"filters": 1, "kernel": 5, "padding": 2}, (1, 5, 5)),
    ({"filters": 3, "kernel": 3, "stride": 2, "padding": 1}, (1, 7, 6)),  # single channel: offset-major cols
    ({"filters": 2, "kernel": 2, "stride": 3}, (1, 8, 7)),
    ({"filters": 4, "kernel": 3, "padding": 1}, (16, 5, 6)),  # 16 channels, 4 filters: forward as shifted GEMMs
    ({"filters": 3, "kernel": 2, "padding": 0}, (17, 4, 5)),  # shifted forward without padding
    ({"filters": 40, "kernel": 3, "padding": 1}, (8, 5, 6)),  # 72 columns k·k·C, 40 filters: cols by chunks
    ({"filters": 3, "kernel": 3, "stride": 2, "padding": 1}, (8, 7, 8)),  # cols by chunks, strided
    ({"filters": 2, "kernel": 5, "padding": 2}, (3, 6, 6)),  # 75 columns of 3 channels: by chunks on one thread, whole on two
]


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def blas_thread_count(request, monkeypatch):
    """The BLAS thread count conv plans its routes for (cols by chunks only on one thread)."""
    from bpcli.host import openblas

    monkeypatch.setattr(openblas, "threads", lambda: request.param)
    return request.param


@pytest.mark.parametrize("options, shape", CONV_CASES)
def test_conv_forward_and_backward_match_loops(blas_route, blas_thread_count, options, shape):
    layer, rng = _conv(options, shape, 3)
    x = rng.standard_normal((3, *shape))
    out = layer.forward(x)
    W, b = layer.params["W"], layer.params["b"]
    s, p = options.get("stride", 1), options.get("padding", 0)
    np.testing.assert_allclose(out, _conv_loop(x, W, b, s, p), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dout_before = dout.copy()
    dx = layer.backward(dout)
    want_dx, want_dW, want_db = _conv_grads_loop(x, W, dout, s, p)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], want_dW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], want_db, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(dout, dout_before)
    if blas_route.name == "blas" and s == 1:  # through cblas: forward (k² shifted GEMMs, or one per chunk of cols, or one), db,
        k2 = options["kernel"] ** 2  # dW when cols come by chunks (one chunk here), and stride-1 dx (k²)
        shifted = shape[0] >= 16
        chunked = shape[0] >= 2 and options["kernel"] ** 2 * shape[0] >= 64 and blas_thread_count == 1
        assert blas_route.calls["gemm"] == (k2 if shifted else 1) + (1 if shifted or chunked else 0) + 1 + k2
    # idempotent: a second backward assigns the same gradients
    dW_first = layer.grads["W"].copy()
    layer.backward(dout)
    np.testing.assert_array_equal(layer.grads["W"], dW_first)


@pytest.mark.parametrize("images_per_chunk", [1, 2])
@pytest.mark.parametrize("options, shape", [CONV_CASES[7], CONV_CASES[9], CONV_CASES[10], CONV_CASES[11]])
def test_conv_with_cols_built_a_few_images_at_a_time_matches_the_loops(blas_route, monkeypatch, images_per_chunk, options, shape):
    """cols by chunks of images (the last one shorter): forward's product and dW's sum over the
    chunks, after a shifted-GEMM forward (16 channels) or a forward by chunks itself (8 or 3 channels)."""
    from bpcli.fast import conv

    layer, rng = _conv(options, shape, 3)
    x = rng.standard_normal((3, *shape))
    out = layer.forward(x)
    W, b = layer.params["W"], layer.params["b"]
    s, p = options.get("stride", 1), options.get("padding", 0)
    k, (_, ho, wo) = options["kernel"], out.shape[1:]
    monkeypatch.setattr(conv, "CHUNK_BYTES", images_per_chunk * ho * wo * k * k * shape[0] * 8)
    monkeypatch.setattr(conv.openblas, "threads", lambda: 1)  # the budget is per BLAS thread
    out = layer.forward(x)
    np.testing.assert_allclose(out, _conv_loop(x, W, b, s, p), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    calls_before = blas_route.calls["gemm"]
    dx = layer.backward(dout)
    want_dx, want_dW, want_db = _conv_grads_loop(x, W, dout, s, p)
    np.testing.assert_allclose(layer.grads["W"], want_dW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], want_db, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-10, atol=1e-12)
    if blas_route.name == "blas" and s == 1:
        chunks = -(-3 // images_per_chunk)
        assert blas_route.calls["gemm"] - calls_before == chunks + 1 + k * k  # dW per chunk, db, dx


def _channel_last(a):
    """a's values in an (N, C, H, W) array whose memory is (N, H, W, C)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _channel_major(a):
    """a's values in an (N, C, H, W) array whose memory is (C, N, H, W)."""
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


def _with_gaps(a):
    """a's values in a channel-last view with unused rows and columns around it (like a shifted conv's output)."""
    n, c, h, w = a.shape
    grid = np.full((n, h + 2, w + 3, c), np.nan)
    grid[:, 1 : h + 1, 2 : w + 2, :] = a.transpose(0, 2, 3, 1)
    return grid[:, 1 : h + 1, 2 : w + 2, :].transpose(0, 3, 1, 2)


LAYOUTS = [_channel_last, _channel_major, _with_gaps]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("options, shape", [CONV_CASES[0], CONV_CASES[3], CONV_CASES[5], CONV_CASES[-2]])
def test_conv_gives_the_same_numbers_whatever_the_memory_layout_of_x_and_dout(options, shape, layout):
    layer, rng = _conv(options, shape, 3)
    x = rng.standard_normal((3, *shape))
    W, b = layer.params["W"], layer.params["b"]
    s, p = options.get("stride", 1), options.get("padding", 0)
    out = layer.forward(layout(x))
    np.testing.assert_allclose(out, _conv_loop(x, W, b, s, p), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    want_dx, want_dW, want_db = _conv_grads_loop(x, W, dout, s, p)
    np.testing.assert_allclose(layer.backward(layout(dout)), want_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], want_dW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], want_db, rtol=1e-10, atol=1e-12)


def test_channel_last_memory_passes_from_conv_through_relu_and_pool_to_the_next_conv():
    from bpcli.fast.layout import NHWC, memory_order, rows_view

    rng = np.random.default_rng(5)
    layers = [LAYERS.get("conv2d")(filters=4, kernel=3, padding=1), LAYERS.get("relu")(),
              LAYERS.get("maxpool2d")(), LAYERS.get("conv2d")(filters=3, kernel=3, padding=1)]
    shape = (2, 6, 6)
    for layer in layers:
        shape = layer.build(shape, rng, np.float64)
    a = rng.standard_normal((2, 2, 6, 6))
    for layer in layers:
        a = layer.forward(a)
        assert memory_order(a) == NHWC, type(layer).__name__
    d = rng.standard_normal(a.shape)
    for layer in reversed(layers[1:]):
        d = layer.backward(d)
        assert rows_view(d) is not None or memory_order(d) == NHWC, type(layer).__name__


def test_conv_dx_matches_central_differences_on_a_small_stride1_case():
    layer, rng = _conv({"filters": 2, "kernel": 3, "padding": 1}, (2, 4, 5), 2)
    x = rng.standard_normal((2, 2, 4, 5))
    dout = rng.standard_normal((2, 2, 4, 5))
    layer.forward(x)
    dx = layer.backward(dout).copy()
    numeric, _ = numerical_gradient(lambda: float(np.sum(layer.forward(x) * dout)), x)
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)


def test_conv_reused_buffers_follow_a_change_of_batch_size():
    layer, rng = _conv({"filters": 3, "kernel": 3, "padding": 1}, (2, 5, 5), 4)
    W, b = layer.params["W"], layer.params["b"]
    for batch in (4, 1, 4, 6):
        x = rng.standard_normal((batch, 2, 5, 5))
        out = layer.forward(x)
        np.testing.assert_allclose(out, _conv_loop(x, W, b, 1, 1), rtol=1e-10, atol=1e-12)
        dout = rng.standard_normal(out.shape)
        want_dx, want_dW, _ = _conv_grads_loop(x, W, dout, 1, 1)
        np.testing.assert_allclose(layer.backward(dout), want_dx, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["W"], want_dW, rtol=1e-10, atol=1e-12)


def test_conv_output_of_one_forward_survives_the_next():
    layer, rng = _conv({"filters": 2, "kernel": 3, "padding": 1}, (1, 4, 4), 2)
    x1, x2 = rng.standard_normal((2, 2, 1, 4, 4))
    out1 = layer.forward(x1)
    kept = out1.copy()
    layer.forward(x2)
    np.testing.assert_array_equal(out1, kept)


def test_conv_skips_dx_when_nobody_needs_it_but_still_fills_grads():
    layer, rng = _conv({"filters": 2, "kernel": 3, "padding": 1}, (1, 5, 5), 2)
    x = rng.standard_normal((2, 1, 5, 5))
    dout = rng.standard_normal((2, 2, 5, 5))
    layer.forward(x)
    layer.needs_input_grad = False
    assert layer.backward(dout) is None
    _, want_dW, want_db = _conv_grads_loop(x, layer.params["W"], dout, 1, 1)
    np.testing.assert_allclose(layer.grads["W"], want_dW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], want_db, rtol=1e-10, atol=1e-12)


def _pool_loop(x, k, s, reduce):
    n, c, hh, ww = x.shape
    ho, wo = (hh - k) // s + 1, (ww - k) // s + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = reduce(x[:, :, i * s : i * s + k, j * s : j * s + k], axis=(2, 3))
    return out


@pytest.mark.parametrize("size, stride, hw", [(2, 2, (6, 8)), (2, 2, (4, 2)), (2, 2, (5, 7)), (3, 3, (6, 9)), (3, 1, (5, 5)), (2, 1, (4, 4))])
def test_maxpool_routes_dout_to_the_first_maximum_of_each_window(size, stride, hw):
    layer = LAYERS.get("maxpool2d")(size=size, stride=stride)
    rng = np.random.default_rng(1)
    # few distinct values: many windows hold their maximum more than once
    x = rng.integers(0, 3, size=(2, 3, *hw)).astype(np.float64)
    out = layer.forward(x)
    np.testing.assert_array_equal(out, _pool_loop(x, size, stride, np.max))
    dout = rng.standard_normal(out.shape)
    want = np.zeros_like(x)
    want_argmax = np.zeros(out.shape, dtype=np.int64)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            win = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size]
            first = win.reshape(*win.shape[:2], -1).argmax(axis=-1)  # argmax keeps the first maximum
            want_argmax[:, :, i, j] = first
            a, b = np.divmod(first, size)
            nn, cc = np.indices(first.shape)
            np.add.at(want, (nn, cc, i * stride + a, j * stride + b), dout[:, :, i, j])
    np.testing.assert_array_equal(layer.kink_state(), want_argmax)
    dout_before = dout.copy()
    np.testing.assert_allclose(layer.backward(dout), want, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(dout, dout_before)


def test_maxpool_dx_matches_central_differences_without_ties():
    layer = LAYERS.get("maxpool2d")()
    rng = np.random.default_rng(2)
    x = rng.permutation(2 * 2 * 4 * 6).reshape(2, 2, 4, 6).astype(np.float64)  # distinct: no kinks within ±h
    dout = rng.standard_normal((2, 2, 2, 3))
    layer.forward(x)
    dx = layer.backward(dout).copy()
    numeric, crossed = numerical_gradient(lambda: float(np.sum(layer.forward(x) * dout)), x, kinks=layer.kink_state)
    assert not crossed.any()
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)


def test_maxpool_eval_forward_caches_nothing():
    layer = LAYERS.get("maxpool2d")()
    layer.training = False
    layer.forward(np.ones((1, 1, 4, 4)))
    assert layer.kink_state() is None
    with pytest.raises(RuntimeError, match="without a training-mode forward"):
        layer.backward(np.ones((1, 1, 2, 2)))


@pytest.mark.parametrize("size, stride, hw", [(2, 2, (6, 8)), (2, 2, (5, 5)), (3, 2, (7, 7))])
def test_avgpool_spreads_dout_evenly(size, stride, hw):
    layer = LAYERS.get("avgpool2d")(size=size, stride=stride)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, *hw))
    out = layer.forward(x)
    np.testing.assert_allclose(out, _pool_loop(x, size, stride, np.mean), rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    want = np.zeros_like(x)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            want[:, :, i * stride : i * stride + size, j * stride : j * stride + size] += dout[:, :, i, j, None, None] / size**2
    np.testing.assert_allclose(layer.backward(dout), want, rtol=1e-12)
