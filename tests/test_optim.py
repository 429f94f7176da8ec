"""Optimizers against two steps computed by hand from their formulas, and clipping.

Every case starts from w = [1, -2] and applies g1 = [0.5, 1] then g2 = [-1, 0.5]
(gradients given, not computed from w), with lr = 0.1. The expected values were worked out
on paper from each update rule; the derivation is in the comment beside each case. Every
registered optimizer also runs, on every one of its `examples`, against its textbook update
written here and against torch.optim where torch is installed.
"""

import math

import numpy as np
import pytest

from bpcli.nn.optim import OPTIMIZERS, clip_by_global_norm, global_norm
from registered import enrolled, with_defaults

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


# --- every registered optimizer on every one of its examples ---------------------------------

def _sgd(o, w, g, s, t):
    return w - o["lr"] * g


def _momentum(o, w, g, s, t):
    s["v"] = o["momentum"] * s.get("v", 0.0) - o["lr"] * g
    return w + s["v"]


def _nesterov(o, w, g, s, t):
    v_prev = s.get("v", 0.0)
    s["v"] = o["momentum"] * v_prev - o["lr"] * g
    return w - o["momentum"] * v_prev + (1 + o["momentum"]) * s["v"]


def _rmsprop(o, w, g, s, t):
    s["cache"] = o["decay_rate"] * s.get("cache", 0.0) + (1 - o["decay_rate"]) * g**2
    return w - o["lr"] * g / (np.sqrt(s["cache"]) + o["epsilon"])


def _adam(o, w, g, s, t):
    s["m"] = o["beta1"] * s.get("m", 0.0) + (1 - o["beta1"]) * g
    s["v"] = o["beta2"] * s.get("v", 0.0) + (1 - o["beta2"]) * g**2
    m_hat, v_hat = s["m"] / (1 - o["beta1"] ** t), s["v"] / (1 - o["beta2"] ** t)
    return w - o["lr"] * m_hat / (np.sqrt(v_hat) + o["epsilon"])


def _adamw(o, w, g, s, t):
    return _adam(o, w * (1 - o["lr"] * o["weight_decay"]), g, s, t)


REFERENCES = {"sgd": _sgd, "momentum": _momentum, "nesterov": _nesterov, "rmsprop": _rmsprop,
              "adam": _adam, "adamw": _adamw}  # textbook updates (CS231n's optim.py, the papers)


def _run(make_step, steps=6):
    """Weights of two parameters after each of `steps` steps on fixed random gradients."""
    rng = np.random.default_rng(5)
    w = {"a.W": rng.standard_normal((3, 2)), "a.b": rng.standard_normal(4)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in w.items()} for _ in range(steps)]
    return make_step(w, grads)


def _ours(entry, options):
    """A make_step for `_run`: bpcli's optimizer `entry` stepping copies of the weights (given copies of the gradients)."""

    def ours(w, grads):
        live = {k: v.copy() for k, v in w.items()}
        opt = entry(live, **options)
        out = []
        for g in grads:
            opt.step({k: v.copy() for k, v in g.items()})
            out.append({k: v.copy() for k, v in live.items()})
        return out

    return ours


def test_every_registered_optimizer_has_a_reference_formula_here():
    assert sorted(REFERENCES) == sorted(OPTIMIZERS.names())


@pytest.mark.parametrize("name,entry,options", enrolled(OPTIMIZERS))
def test_every_registered_optimizer_follows_its_textbook_update(name, entry, options):
    o = with_defaults(entry, options, skip=("params",))

    def reference(w, grads):
        state = {k: {} for k in w}
        out = []
        for t, g in enumerate(grads, start=1):
            w = {k: REFERENCES[name](o, w[k], g[k], state[k], t) for k in w}
            out.append(w)
        return out

    for expected, got in zip(_run(reference), _run(_ours(entry, options))):
        for k in expected:
            np.testing.assert_allclose(got[k], expected[k], rtol=1e-11, atol=1e-13, err_msg=k)


TORCH = {  # torch.optim's equivalent of each optimizer (same update, torch's parameter names)
    "sgd": lambda torch, p, o: torch.optim.SGD(p, lr=o["lr"]),
    "momentum": lambda torch, p, o: torch.optim.SGD(p, lr=o["lr"], momentum=o["momentum"]),
    "nesterov": lambda torch, p, o: torch.optim.SGD(p, lr=o["lr"], momentum=o["momentum"], nesterov=True),
    "rmsprop": lambda torch, p, o: torch.optim.RMSprop(p, lr=o["lr"], alpha=o["decay_rate"], eps=o["epsilon"]),
    "adam": lambda torch, p, o: torch.optim.Adam(p, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["epsilon"]),
    "adamw": lambda torch, p, o: torch.optim.AdamW(p, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["epsilon"],
                                                   weight_decay=o["weight_decay"]),
}


@pytest.mark.parametrize("name,entry,options", [p for p in enrolled(OPTIMIZERS) if p.values[0] in TORCH])
def test_every_registered_optimizer_with_a_torch_twin_matches_torch_optim(name, entry, options):
    torch = pytest.importorskip("torch")
    o = with_defaults(entry, options, skip=("params",))

    def theirs(w, grads):
        params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in w.items()}
        opt = TORCH[name](torch, list(params.values()), o)
        out = []
        for g in grads:
            for k, p in params.items():
                p.grad = torch.tensor(g[k], dtype=torch.float64)
            opt.step()
            out.append({k: p.detach().numpy().copy() for k, p in params.items()})
        return out


    for expected, got in zip(_run(theirs), _run(_ours(entry, options))):
        for k in expected:
            np.testing.assert_allclose(got[k], expected[k], rtol=1e-10, atol=1e-12, err_msg=k)
