"""The convolution's memory-bounded paths (bpcli/fast/conv.py): im2col columns built a few
examples at a time (in forward and again in backward for dW, or in backward only after the
shifted forward) instead of kept whole, checked against the definition by loops (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import bpcli.fast.conv as conv
from bpcli.fast import TWINS
from test_conv_fast_paths import _conv_grads_loop, _conv_loop

CASES = [
    ({"filters": 4, "kernel": 3, "padding": 1}, (16, 5, 6)),  # 16 channels: the shifted forward
    ({"filters": 3, "kernel": 3, "padding": 1}, (8, 5, 4)),  # doutᵀ @ cols for dW
    ({"filters": 3, "kernel": 3, "padding": 1}, (2, 6, 5)),  # colsᵀ @ dout for dW
    ({"filters": 2, "kernel": 3, "stride": 2, "padding": 1}, (3, 7, 8)),  # strided dx
]


@pytest.mark.parametrize("options, shape", CASES)
@pytest.mark.parametrize("chunk_examples", [1, 2, 5])  # 2: a short last chunk of 1
def test_conv_with_im2col_columns_in_chunks_matches_the_definition(monkeypatch, options, shape, chunk_examples):
    batch = 5
    layer = TWINS.get("conv2d")(**options)
    rng = np.random.default_rng(3)
    layer.build(shape, rng, np.float64)
    layer.params["b"] = rng.standard_normal(layer.params["b"].shape)
    k, s, p = options["kernel"], options.get("stride", 1), options["padding"]
    ho, wo = ((d + 2 * p - k) // s + 1 for d in shape[1:])
    monkeypatch.setattr(conv, "WHOLE_COLS_MAX_BYTES", 0)  # every batch's columns count as too large to keep
    monkeypatch.setattr(conv, "COLS_CHUNK_BYTES", chunk_examples * ho * wo * k * k * shape[0] * 8)
    x = rng.standard_normal((batch, *shape))
    for _ in range(2):  # the second step reuses the chunk buffers
        out = layer.forward(x)
        np.testing.assert_allclose(out, _conv_loop(x, layer.params["W"], layer.params["b"], s, p), rtol=1e-10, atol=1e-12)
        dout = rng.standard_normal(out.shape)
        dx = layer.backward(dout)
        dx_ref, dW_ref, db_ref = _conv_grads_loop(x, layer.params["W"], dout, s, p)
        np.testing.assert_allclose(layer.grads["W"], dW_ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["b"], db_ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-12)
    assert layer._cols.array.shape[0] == min(chunk_examples, batch)  # never the whole batch's columns


def test_conv_keeps_small_im2col_columns_whole_between_forward_and_backward():
    layer = TWINS.get("conv2d")(filters=3, kernel=3, padding=1)
    layer.build((2, 6, 5), np.random.default_rng(0), np.float64)
    layer.forward(np.random.default_rng(1).standard_normal((4, 2, 6, 5)))
    assert layer._cache.cols is not None and layer._cache.cols.shape == (4 * 6 * 5, 9 * 2)
