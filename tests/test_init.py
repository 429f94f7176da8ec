"""Every registered initializer on every one of its `examples` against the distribution its
docstring states: W = std · N(0, 1) with std from the fans (zeros: exactly 0), checked by
statistics of the draw (fixed seeds: the checks are deterministic)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bpcli.nn.init import INITIALIZERS
from registered import enrolled

STDS = {  # the stated std of every entry, from the literature
    "he": lambda fan_in, fan_out: math.sqrt(2 / fan_in),  # He et al. 2015
    "xavier": lambda fan_in, fan_out: math.sqrt(1 / fan_in),  # CS231n's calibrated variance
    "small": lambda fan_in, fan_out: 0.01,  # the lecture's 0.01 · randn
    "zeros": lambda fan_in, fan_out: 0.0,
}
NORMAL_WITHIN_ONE_STD = math.erf(1 / math.sqrt(2))  # P(|z| < 1) = 0.6827


def test_every_registered_initializer_has_a_stated_std_here():
    assert sorted(STDS) == sorted(INITIALIZERS.names())


@pytest.mark.parametrize("name,entry,example", enrolled(INITIALIZERS))
def test_every_registered_initializer_draws_its_stated_distribution(name, entry, example):
    shape, fan_in, fan_out = example
    w = entry(shape, fan_in, fan_out, np.random.default_rng(7), np.float64)
    assert w.shape == tuple(shape) and w.dtype == np.float64 and w.flags.c_contiguous
    std = STDS[name](fan_in, fan_out)
    if std == 0:
        assert not w.any()
        return
    n = w.size
    z = w / std
    assert abs(z.mean()) < 5 / math.sqrt(n)  # mean 0: its standard error is 1/sqrt(n)
    assert abs(z.std() - 1) < 5 / math.sqrt(2 * n)  # the sample std's standard error is 1/sqrt(2n)
    within = np.mean(np.abs(z) < 1)  # normal, not uniform with the same variance (that gives 0.577)
    p = NORMAL_WITHIN_ONE_STD
    assert abs(within - p) < 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("name,entry,example", enrolled(INITIALIZERS))
def test_float32_weights_are_the_float64_draw_rounded(name, entry, example):
    shape, fan_in, fan_out = example
    w32 = entry(shape, fan_in, fan_out, np.random.default_rng(7), np.float32)
    w64 = entry(shape, fan_in, fan_out, np.random.default_rng(7), np.float64)
    assert w32.dtype == np.float32
    np.testing.assert_array_equal(w32, w64.astype(np.float32))
