"""The convolution's memory-bounded paths (bpcli/fast/conv.py): dW from im2col columns built a
few examples at a time, checked against the definition by loops (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import bpcli.fast.conv as conv
from bpcli.fast import TWINS
from test_conv_fast_paths import _conv_grads_loop


@pytest.mark.parametrize("chunk_examples", [1, 2, 5])  # 2: a short last chunk of 1
def test_conv_weight_gradient_built_in_chunks_matches_the_definition(monkeypatch, chunk_examples):
    options, shape, batch = {"filters": 4, "kernel": 3, "padding": 1}, (16, 5, 6), 5  # 16 channels: shifted forward
    layer = TWINS.get("conv2d")(**options)
    rng = np.random.default_rng(3)
    layer.build(shape, rng, np.float64)
    layer.params["b"] = rng.standard_normal(4)
    per_example = 5 * 6 * 9 * 16 * 8  # Ho·Wo·k·k·C float64 columns
    monkeypatch.setattr(conv, "DW_CHUNK_BYTES", chunk_examples * per_example)
    x = rng.standard_normal((batch, *shape))
    for _ in range(2):  # the second step reuses the chunk buffers
        out = layer.forward(x)
        dout = rng.standard_normal(out.shape)
        dx = layer.backward(dout)
        dx_ref, dW_ref, db_ref = _conv_grads_loop(x, layer.params["W"], dout, 1, 1)
        np.testing.assert_allclose(layer.grads["W"], dW_ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["b"], db_ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-12)
    assert layer._cols.array.shape[0] == min(chunk_examples, batch)  # never the whole batch's columns
