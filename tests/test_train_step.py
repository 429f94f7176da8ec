"""TrainStep on the fast layers, with the optimizer's update fused into the dense layers' backward,
against the plain route (Model.loss_and_grads, then optimizer.step) on the same model built from
the reference layers, for every optimizer."""

import numpy as np
import pytest

from bpcli.nn.optim import OPTIMIZERS
from bpcli.fast.train_step import TrainStep
from bpcli.spec import build_model, load_spec_text

SPEC = """
seed: 4
data: {type: spiral, points_per_class: 10}
model:
  - dense: 6
  - relu
  - layernorm
  - dense: {units: 5, bias: false}
  - tanh
  - dense: 3
regularization: {type: REG, strength: 0.01}
"""

FUSING = {"sgd", "momentum"}  # the optimizers whose update starts as target = alpha·g + beta·target


def _twins(reg: str, dtype):
    """(fast model, reference model) with equal weights."""
    fast = load_spec_text(SPEC.replace("REG", reg))
    reference = load_spec_text(SPEC.replace("REG", reg), ["train.kernels=reference"])
    return build_model(fast, (4,), 3, dtype=dtype), build_model(reference, (4,), 3, dtype=dtype)


def _batch(dtype):
    rng = np.random.default_rng(0)
    return rng.standard_normal((8, 4)).astype(dtype), rng.integers(0, 3, 8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("clip", [None, 0.05])
@pytest.mark.parametrize("reg", ["none", "l2", "l1"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS.names()))
def test_a_train_step_lands_where_loss_and_grads_then_step_lands(blas_route, name, reg, clip, dtype):
    model, twin = _twins(reg, dtype)
    optimizer = OPTIMIZERS.get(name)(model.graph.params(), lr=0.1)
    reference = OPTIMIZERS.get(name)(twin.graph.params(), lr=0.1)
    step = TrainStep(model, optimizer, clip_norm=clip)
    fused = name in FUSING and clip is None
    for g in model.graph.grads().values():
        g.fill(np.nan)  # a fused update never writes the dense layers' gradient arrays
    X, y = _batch(dtype)
    for _ in range(4):
        loss, reg_loss, _ = step.forward(X, y)
        step.backward_and_update()
        parts = twin.loss_and_grads(X, y)
        if clip:
            from bpcli.nn.optim import clip_by_global_norm

            clip_by_global_norm(twin.graph.grads(), clip)
        reference.step(twin.graph.grads())
        assert loss == pytest.approx(parts.data, rel=1e-6) and reg_loss == pytest.approx(parts.reg, rel=1e-6, abs=1e-12)
    dense_grads = [g for k, g in model.graph.grads().items() if k.startswith("dense")]
    assert all(np.isnan(g).all() if fused else np.isfinite(g).all() for g in dense_grads)
    if blas_route.name == "blas" and fused:  # the fused route really ran through cblas
        assert blas_route.calls["gemm"] > 0 and (name == "sgd" or blas_route.calls["axpy"] > 0)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for key, p in model.graph.params().items():
        np.testing.assert_allclose(p, twin.graph.params()[key], rtol=tol, atol=tol, err_msg=key)
    for key, s in optimizer.state_dict().items():
        np.testing.assert_allclose(s, reference.state_dict()[key], rtol=tol, atol=tol, err_msg=key)


def test_fused_parameters_never_touch_their_gradient_arrays(blas_route):
    model, _ = _twins("l2", np.float64)
    step = TrainStep(model, OPTIMIZERS.get("momentum")(model.graph.params(), lr=0.1))
    grads = model.graph.grads()
    for g in grads.values():
        g.fill(np.nan)
    step.forward(*_batch(np.float64))
    step.backward_and_update()
    dense = {k for k in grads if k.startswith("dense")}
    assert dense and all(np.isnan(grads[k]).all() for k in dense)  # taken by the sinks, not written
    assert all(np.isfinite(g).all() for k, g in model.graph.grads().items() if k not in dense)  # layernorm: the usual way
    assert all(np.isfinite(p).all() for p in model.graph.params().values())
    assert _dense_grads_written(model, TrainStep(model, OPTIMIZERS.get("adam")(model.graph.params())))  # no sink left


def _dense_grads_written(model, step) -> bool:
    """Whether a step wrote the dense layers' gradient arrays (NaN-filled before it)."""
    grads = model.graph.grads()
    for g in grads.values():
        g.fill(np.nan)
    step.forward(*_batch(np.float64))
    step.backward_and_update()
    return all(np.isfinite(g).all() for k, g in model.graph.grads().items() if k.startswith("dense0."))


def test_fuse_false_takes_the_plain_route_and_lands_where_it_does():
    model, twin = _twins("none", np.float64)
    step = TrainStep(model, OPTIMIZERS.get("sgd")(model.graph.params(), lr=0.1), fuse=False)
    assert _dense_grads_written(model, step)
    reference = OPTIMIZERS.get("sgd")(twin.graph.params(), lr=0.1)
    twin.loss_and_grads(*_batch(np.float64))
    reference.step(twin.graph.grads())
    for key, p in model.graph.params().items():
        np.testing.assert_allclose(p, twin.graph.params()[key], rtol=1e-12, err_msg=key)


def test_backward_without_forward_is_an_error():
    model, _ = _twins("none", np.float64)
    step = TrainStep(model, OPTIMIZERS.get("sgd")(model.graph.params(), lr=0.1))
    with pytest.raises(RuntimeError, match="without forward"):
        step.backward_and_update()


def test_an_optimizer_over_some_parameters_fuses_only_those_and_leaves_no_sinks():
    model, twin = _twins("none", np.float64)
    mine = {k: p for k, p in model.graph.params().items() if k.startswith("dense0.")}
    theirs = {k: p for k, p in twin.graph.params().items() if k.startswith("dense0.")}
    reference = OPTIMIZERS.get("sgd")(theirs, lr=0.1)
    X, y = _batch(np.float64)
    for _ in range(2):  # a new TrainStep the second time: no sink was left behind by the first
        step = TrainStep(model, OPTIMIZERS.get("sgd")(mine, lr=0.1))
        step.forward(X, y)
        step.backward_and_update()
        twin.loss_and_grads(X, y)
        reference.step(twin.graph.grads())
        for key, p in model.graph.params().items():
            np.testing.assert_allclose(p, twin.graph.params()[key], rtol=1e-12, err_msg=key)


def test_a_subclass_of_the_fast_dense_is_not_fused_unless_it_says_so():
    from bpcli.fast import TWINS

    class Mine(TWINS.get("dense")):
        pass

    model, _ = _twins("none", np.float64)
    model.graph.nodes[0].layer.__class__ = Mine
    step = TrainStep(model, OPTIMIZERS.get("sgd")(model.graph.params(), lr=0.1))
    assert _dense_grads_written(model, step)
