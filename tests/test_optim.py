"""Optimizers against two steps computed by hand from their formulas, and clipping.

Every case starts from w = [1, -2] and applies g1 = [0.5, 1] then g2 = [-1, 0.5]
(gradients given, not computed from w), with lr = 0.1. The expected values were worked out
on paper from each update rule; the derivation is in the comment beside each case.
"""

import math

import numpy as np
import pytest

from bpcli.nn.optim import OPTIMIZERS, clip_by_global_norm, global_norm

W0 = [1.0, -2.0]
G1 = [0.5, 1.0]
G2 = [-1.0, 0.5]

CASES = {
    # w1 = w0 - 0.1*g1 = [0.95, -2.1];  w2 = w1 - 0.1*g2 = [1.05, -2.15]
    "sgd": ({"lr": 0.1}, [0.95, -2.1], [1.05, -2.15]),
    # v1 = -0.1*g1 = [-0.05, -0.1];  w1 = [0.95, -2.1]
    # v2 = 0.9*v1 - 0.1*g2 = [0.055, -0.14];  w2 = w1 + v2 = [1.005, -2.24]
    "momentum": ({"lr": 0.1, "momentum": 0.9}, [0.95, -2.1], [1.005, -2.24]),
    # w1 = w0 - 0.9*0 + 1.9*v1 = [0.905, -2.19]
    # w2 = w1 - 0.9*v1 + 1.9*v2 = [0.905 + 0.045 + 0.1045, -2.19 + 0.09 - 0.266]
    "nesterov": ({"lr": 0.1, "momentum": 0.9}, [0.905, -2.19], [1.0545, -2.366]),
    # c1 = 0.1*g1^2 = [0.025, 0.1];  step = 0.1*g1/sqrt(c1) = 0.1*sqrt(10) each = 0.316227766
    # c2 = 0.9*c1 + 0.1*g2^2 = [0.1225, 0.115];  step = 0.1*[-1/0.35, 0.5/sqrt(0.115)]
    #    = [-0.285714286, 0.147441956]
    "rmsprop": (
        {"lr": 0.1, "decay_rate": 0.9, "epsilon": 0.0},
        [1 - 0.316227766, -2 - 0.316227766],
        [1 - 0.316227766 + 0.285714286, -2 - 0.316227766 - 0.147441956],
    ),
    # step 1: m_hat = g1, v_hat = g1^2 -> w1 = w0 - 0.1*sign(g1) = [0.9, -2.1]
    # step 2: m = [-0.055, 0.14], m_hat = m/0.19 = [-0.289473684, 0.736842105]
    #         v = [0.00124975, 0.001249], v_hat = v/0.001999 = [0.625187594, 0.624812406]
    #         step = 0.1*m_hat/sqrt(v_hat) = [-0.036610353, 0.093217964]
    "adam": (
        {"lr": 0.1, "epsilon": 0.0},
        [0.9, -2.1],
        [0.9 + 0.036610353, -2.1 - 0.093217964],
    ),
    # decay first: w *= 1 - 0.1*0.1, then the same Adam steps
    # w1 = [0.99 - 0.1, -1.98 - 0.1];  w2 = 0.99*w1 - adam step 2
    "adamw": (
        {"lr": 0.1, "epsilon": 0.0, "weight_decay": 0.1},
        [0.89, -2.08],
        [0.8811 + 0.036610353, -2.0592 - 0.093217964],
    ),
}


def test_every_registered_optimizer_has_a_hand_computed_case():
    assert sorted(OPTIMIZERS.names()) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_steps_match_the_hand_computation(name):
    options, after_one, after_two = CASES[name]
    w = np.array(W0)
    opt = OPTIMIZERS.get(name)({"w": w}, **options)
    opt.step({"w": np.array(G1)})
    np.testing.assert_allclose(w, after_one, rtol=0, atol=1e-8)
    opt.step({"w": np.array(G2)})
    np.testing.assert_allclose(w, after_two, rtol=0, atol=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_updates_are_in_place_float32_and_leave_gradients_alone(name):
    w = np.array(W0, dtype=np.float32)
    g = np.array(G1, dtype=np.float32)
    opt = OPTIMIZERS.get(name)({"w": w}, **CASES[name][0])
    opt.step({"w": g})
    opt.step({"w": g})
    assert w.dtype == np.float32
    assert all(a.dtype == np.float32 for k, a in opt.state_dict().items() if k != "t")
    np.testing.assert_array_equal(g, np.array(G1, dtype=np.float32))
    assert not np.allclose(w, W0)


def test_cs231n_defaults():
    adam = OPTIMIZERS.get("adam")({"w": np.zeros(2)})
    assert (adam.lr, adam.beta1, adam.beta2, adam.epsilon) == (1e-3, 0.9, 0.999, 1e-8)
    momentum = OPTIMIZERS.get("momentum")({"w": np.zeros(2)})
    assert (momentum.lr, momentum.momentum) == (1e-2, 0.9)
    rms = OPTIMIZERS.get("rmsprop")({"w": np.zeros(2)})
    assert (rms.lr, rms.decay_rate, rms.epsilon) == (1e-2, 0.99, 1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip_continues_identically(name):
    options = CASES[name][0]
    w_a = np.array(W0)
    a = OPTIMIZERS.get(name)({"w": w_a}, **options)
    a.step({"w": np.array(G1)})
    w_b = w_a.copy()
    b = OPTIMIZERS.get(name)({"w": w_b}, **options)
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    a.step({"w": np.array(G2)})
    b.step({"w": np.array(G2)})
    np.testing.assert_array_equal(w_a, w_b)


def test_clipping_scales_to_the_global_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0], [4.0]])}  # norm 5
    assert global_norm(grads) == pytest.approx(5.0)
    before = clip_by_global_norm(grads, 1.0)
    assert before == pytest.approx(5.0)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0])
    np.testing.assert_allclose(grads["b"], [[0.0], [0.8]])
    assert global_norm(grads) == pytest.approx(1.0)


def test_clipping_leaves_small_gradients_unchanged():
    grads = {"a": np.array([0.3, 0.4])}
    assert clip_by_global_norm(grads, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(grads["a"], [0.3, 0.4])
    assert math.isclose(global_norm({}), 0.0)


def test_adam_with_zero_lr_keeps_weights_and_updates_moments():
    w = np.array([1.0, -2.0], dtype=np.float32)
    adam = OPTIMIZERS.get("adam")({"w": w}, lr=0.0)
    adam.step({"w": np.array([0.5, 0.5], dtype=np.float32)})
    assert w.tolist() == [1.0, -2.0]
    np.testing.assert_allclose(adam.state["m_sum"]["w"], [0.5, 0.5], rtol=1e-6)  # m / (1 - 0.9) = 0.5


def test_adam_float32_matches_float64_reference_over_many_steps():
    """The folded-scalar update against the textbook formula in float64 (1000 steps, noisy grads)."""
    rng = np.random.default_rng(0)
    w32 = rng.standard_normal(50).astype(np.float32)
    w64 = w32.astype(np.float64)
    m = np.zeros(50)
    v = np.zeros(50)
    adam = OPTIMIZERS.get("adam")({"w": w32}, lr=1e-2)
    for t in range(1, 1001):
        g = rng.standard_normal(50) * 0.1 + 0.05 * w64
        adam.step({"w": g.astype(np.float32)})
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w64 -= 1e-2 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    assert w32.dtype == np.float32
    np.testing.assert_allclose(w32, w64, atol=2e-4)


def test_adam_loads_a_state_with_normalized_moments():
    """A checkpoint from before the unnormalized sums: m = (1-b1) M and v = (1-b2) V."""
    w = np.zeros(2, dtype=np.float32)
    adam = OPTIMIZERS.get("adam")({"w": w})
    adam.load_state_dict({"t": np.array(3), "m/w": np.array([0.1, -0.2], np.float32), "v/w": np.array([0.002, 0.004], np.float32)})
    assert adam.t == 3
    np.testing.assert_allclose(adam.state["m_sum"]["w"], [1.0, -2.0], rtol=1e-5)
    np.testing.assert_allclose(adam.state["v_sum"]["w"], [2.0, 4.0], rtol=1e-4)
