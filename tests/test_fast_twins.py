"""Every fast twin (bpcli/fast/) against its reference layer, registry-wide, and the fast tier's
own promises (fresh outputs, scratch dx, in-place relu, fused optimizer steps).

Registering a twin with `@twin_of(name)` enrolls it: on every `examples` entry of its reference,
in float64 and float32, in training and eval mode, outputs, dx, every gradient and kink state
agree to round-off, and the optimizer step fused into backward lands where the plain step does.
"""

from __future__ import annotations

import numpy as np
import pytest

from bpcli.fast import TWINS, wire
from bpcli.fast.fused_update import fused_update
from bpcli.fast.train_step import GradSink
from bpcli.nn.graph import LayerGraph, Node
from bpcli.nn.layer import LAYERS
from bpcli.nn.optim import OPTIMIZERS

BATCH = 4
TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


# Shapes that reach fast paths the reference layers' own examples do not: conv2d forward as shifted
# GEMMs (from 16 channels), and cols built by chunks of images (from 64 columns k·k·C), strided too.
FAST_PATH_EXAMPLES = {
    "conv2d": (
        ({"filters": 4, "kernel": 3, "padding": 1}, (16, 5, 6)),
        ({"filters": 40, "kernel": 3, "padding": 1}, (8, 5, 6)),
        ({"filters": 3, "kernel": 3, "stride": 2, "padding": 1}, (8, 7, 8)),
        ({"filters": 4, "kernel": 5, "padding": 2}, (3, 6, 5)),  # 3 channels: cols by chunks on one thread
    ),
}


@pytest.fixture(autouse=True, params=[1, 2], ids=["1thread", "2threads"])
def blas_thread_count(request, monkeypatch):
    """Plan the fast layers' routes for one BLAS thread and for two (conv builds cols by chunks only on one)."""
    from bpcli.host import openblas

    monkeypatch.setattr(openblas, "threads", lambda: request.param)
    return request.param


def _twin_cases():
    for name, fast in TWINS.items():
        for i, (options, shape) in enumerate(LAYERS.get(name).examples + FAST_PATH_EXAMPLES.get(name, ())):
            for dtype in (np.float64, np.float32):
                yield pytest.param(name, options, shape, dtype, id=f"{name}-{i}-{np.dtype(dtype).name}")


def _pair(name, options, shape, dtype, seed=0):
    """(reference layer, fast layer, inputs): built from one seed, so with equal parameters."""
    layers = []
    for cls in (LAYERS.get(name), TWINS.get(name)):
        layer = cls(**options)
        layer.name = name
        multi = layer.n_inputs != 1
        layer.build([tuple(s) for s in shape] if multi else tuple(shape), np.random.default_rng(seed), dtype)
        layers.append(layer)
    rng = np.random.default_rng(seed + 1)
    for key, p in layers[0].params.items():  # away from the neutral init (b = 0), the same in both
        p += rng.standard_normal(p.shape).astype(dtype)
        np.copyto(layers[1].params[key], p)
    shapes = list(shape) if layers[0].n_inputs != 1 else [shape]
    xs = [rng.standard_normal((BATCH,) + tuple(s)).astype(dtype) for s in shapes]
    return layers[0], layers[1], xs


def _forward(layer, xs):
    if layer.stochastic:
        layer.rng = np.random.default_rng(7)  # the same noise in both
    return layer.forward(*xs) if layer.n_inputs != 1 else layer.forward(xs[0])


def _dxs(layer, dout):
    dx = layer.backward(dout)
    return [np.array(d, copy=True) for d in (dx if layer.n_inputs != 1 else (dx,))]


def test_every_twin_subclasses_its_reference_and_says_what_it_speeds_up():
    assert {"dense", "relu", "conv2d", "maxpool2d"} <= set(TWINS.names())
    for name, fast in TWINS.items():
        assert issubclass(fast, LAYERS.get(name)), name
        doc = (fast.__dict__.get("__doc__") or "").strip()
        assert doc and "\n" not in doc, name


@pytest.mark.parametrize("name,options,shape,dtype", list(_twin_cases()))
def test_twin_equals_its_reference_in_training(name, options, shape, dtype):
    reference, fast, xs = _pair(name, options, shape, dtype)
    tol = TOLERANCE[dtype]
    out_ref, out_fast = np.array(_forward(reference, xs), copy=True), _forward(fast, xs)
    assert out_fast.dtype == out_ref.dtype == dtype
    np.testing.assert_allclose(out_fast, out_ref, **tol, err_msg="forward")
    kinks_ref, kinks_fast = reference.kink_state(), fast.kink_state()
    assert (kinks_ref is None) == (kinks_fast is None)
    if kinks_ref is not None:
        np.testing.assert_array_equal(np.asarray(kinks_fast), np.asarray(kinks_ref), err_msg="kink_state")
    dout = np.random.default_rng(9).standard_normal(out_ref.shape).astype(dtype)
    dout_before = dout.copy()
    dx_ref, dx_fast = _dxs(reference, dout), _dxs(fast, dout)
    np.testing.assert_array_equal(dout, dout_before, err_msg="backward modified dout")
    for a, b in zip(dx_fast, dx_ref):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **tol, err_msg="dx")
    assert set(fast.grads) >= set(fast.params)
    for key in reference.params:
        assert fast.grads[key].dtype == dtype
        np.testing.assert_allclose(fast.grads[key], reference.grads[key], **tol, err_msg=key)


@pytest.mark.parametrize("name,options,shape,dtype", list(_twin_cases()))
def test_twin_equals_its_reference_in_eval_mode(name, options, shape, dtype):
    reference, fast, xs = _pair(name, options, shape, dtype)
    _forward(reference, xs), _forward(fast, xs)  # batchnorm: running statistics move, in both
    reference.training = fast.training = False
    out_ref = np.array(_forward(reference, xs), copy=True)
    np.testing.assert_allclose(_forward(fast, xs), out_ref, **TOLERANCE[dtype])
    for layer in (reference, fast):  # eval mode caches nothing
        with pytest.raises(RuntimeError, match="without a training-mode forward"):
            layer.backward(np.ones_like(out_ref))


def _spatial_cases():
    for case in _twin_cases():
        name, options, shape, dtype = case.values
        if len(shape) == 3 and not isinstance(shape[0], (list, tuple)):
            yield case


@pytest.mark.parametrize("name,options,shape,dtype", list(_spatial_cases()))
def test_twin_equals_its_reference_on_channel_last_memory(name, options, shape, dtype):
    """The fast spatial layers hand each other (N, C, H, W) arrays whose memory is (N, H, W, C):
    every twin that takes images must give its reference's numbers on such input and dout."""
    reference, fast, xs = _pair(name, options, shape, dtype)
    tol = TOLERANCE[dtype]
    channel_last = lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # noqa: E731
    out_ref = np.array(_forward(reference, xs), copy=True)
    np.testing.assert_allclose(_forward(fast, [channel_last(xs[0])]), out_ref, **tol, err_msg="forward")
    dout = np.random.default_rng(9).standard_normal(out_ref.shape).astype(dtype)
    dout_fast = channel_last(dout) if dout.ndim == 4 else dout
    for a, b in zip(_dxs(fast, dout_fast), _dxs(reference, dout)):
        np.testing.assert_allclose(a, b, **tol, err_msg="dx")
    for key in reference.params:
        np.testing.assert_allclose(fast.grads[key], reference.grads[key], **tol, err_msg=key)


def _fused_cases():
    for case in _twin_cases():
        if TWINS.get(case.values[0]).fusable_grads:
            for opt in ("sgd", "momentum"):
                yield pytest.param(*case.values, opt, id=f"{case.id}-{opt}")


@pytest.mark.parametrize("name,options,shape,dtype,opt", list(_fused_cases()))
def test_the_fused_optimizer_step_lands_where_the_plain_step_does(name, options, shape, dtype, opt):
    reference, fast, xs = _pair(name, options, shape, dtype)
    plain = OPTIMIZERS.get(opt)(reference.params, lr=0.1)
    fused_opt = OPTIMIZERS.get(opt)(fast.params, lr=0.1)
    update = fused_update(fused_opt)
    assert update is not None
    rng = np.random.default_rng(3)
    for _ in range(3):  # momentum: the velocity's beta · v term is exercised from the second step
        out = _forward(reference, xs)
        _forward(fast, xs)
        dout = rng.standard_normal(out.shape).astype(dtype)
        reference.backward(dout)
        plain.step(reference.grads)
        sinks = {k: GradSink(*update.target(fused_opt, k)) for k in fast.fusable_grads if k in fast.params}
        fast.grad_sinks = sinks
        fast.backward(dout)
        fast.grad_sinks = None
        taken = {k for k, sink in sinks.items() if sink.taken}
        assert taken == set(sinks)
        for k in taken:
            update.finish(fused_opt, k)
        fused_opt.step(fast.grads, skip=taken)
    for key in reference.params:
        np.testing.assert_allclose(fast.params[key], reference.params[key], **TOLERANCE[dtype], err_msg=key)


def test_optimizers_that_cannot_fuse_say_so():
    params = {"w": np.zeros(3)}
    assert fused_update(OPTIMIZERS.get("nesterov")(params)) is None  # needs v before and after
    assert fused_update(OPTIMIZERS.get("adam")(params)) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opt,options", [
    ("adam", {"lr": 1e-2}),
    ("adam", {"lr": 0.0}),  # the moments move, the weights do not
    ("adam", {"lr": 3e-3, "beta1": 0.5, "beta2": 0.9, "epsilon": 1e-4}),
    ("adamw", {"lr": 1e-2, "weight_decay": 0.1}),
])
def test_the_fast_optimizer_step_lands_where_the_optimizers_own_step_does(blas_route, opt, options, dtype):
    """Many steps (the bias corrections change with t), a parameter skipped, float32 and float64,
    through cblas and through NumPy alone; the state (what checkpoints hold) too."""
    from bpcli.fast.optimizer_steps import fast_step

    rng = np.random.default_rng(5)
    shapes = {"W": (40, 30), "b": (30,), "skipped": (3,)}
    start = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    mine = {k: p.copy() for k, p in start.items()}
    theirs = {k: p.copy() for k, p in start.items()}
    plain = OPTIMIZERS.get(opt)(theirs, **options)
    twin = OPTIMIZERS.get(opt)(mine, **options)
    step = fast_step(twin)
    assert step != twin.step  # a twin exists for this optimizer
    for i in range(12):
        grads = {k: (rng.standard_normal(s) * 10.0 ** (i % 3 - 1)).astype(dtype) for k, s in shapes.items()}
        plain.step({k: g.copy() for k, g in grads.items()}, skip={"skipped"})
        step(grads, {"skipped"})
    assert twin.t == plain.t == 12
    for key in start:
        np.testing.assert_allclose(mine[key], theirs[key], **TOLERANCE[dtype], err_msg=key)
    np.testing.assert_array_equal(mine["skipped"], start["skipped"])
    for key, state in twin.state_dict().items():
        np.testing.assert_allclose(state, plain.state_dict()[key], **TOLERANCE[dtype], err_msg=key)
    if options["lr"] == 0.0:
        np.testing.assert_array_equal(mine["W"], start["W"])
    if blas_route.name == "blas":  # the twin really ran through cblas
        from bpcli.host import blas

        assert blas_route.calls["axpby"] > 0 or blas._routine("axpby", dtype) is None
        assert (blas_route.calls["axpy"] > 0) == (options["lr"] != 0.0)


def test_optimizers_without_a_fast_step_keep_their_own_and_subclasses_are_not_taken_for_adam():
    from bpcli.fast.optimizer_steps import fast_step
    from bpcli.nn.optim import Adam

    params = {"w": np.zeros(3)}
    for name in ("sgd", "momentum", "nesterov", "rmsprop"):
        opt = OPTIMIZERS.get(name)(params)
        assert fast_step(opt) == opt.step

    class MyAdam(Adam):  # may change the update: the fast step must not stand in for it
        pass

    mine = MyAdam(params)
    assert fast_step(mine) == mine.step


# --- the fast tier's own promises ------------------------------------------------------------

def _flagged_cases(flag):
    for name, cls in TWINS.items():
        if getattr(cls, flag):
            for i, (options, shape) in enumerate(cls.examples + FAST_PATH_EXAMPLES.get(name, ())):
                yield pytest.param(name, options, shape, id=f"{name}-{i}")


@pytest.mark.parametrize("name,options,shape", list(_flagged_cases("fresh_output")))
def test_fresh_output_layers_return_arrays_nobody_else_holds(name, options, shape):
    """`fresh_output` lets the next layer write into the output: so it must share no memory with
    the input or the previous output, and scribbling over it must not change backward."""
    _, layer, xs = _pair(name, options, shape, np.float64)
    first = _forward(layer, xs)
    out = _forward(layer, xs)
    assert not any(np.shares_memory(out, x) for x in xs)
    assert not np.shares_memory(out, first)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    clean = _dxs(layer, dout)
    clean_grads = {k: g.copy() for k, g in layer.grads.items()}
    out[...] = np.nan
    for a, b in zip(clean, _dxs(layer, dout)):
        np.testing.assert_array_equal(a, b)
    for k, g in layer.grads.items():
        np.testing.assert_array_equal(g, clean_grads[k])


@pytest.mark.parametrize("name,options,shape", list(_flagged_cases("scratch_dx")))
def test_scratch_dx_layers_never_read_the_dx_they_returned(name, options, shape):
    """`scratch_dx` lets the layer below write into the returned dx: so it must share no memory
    with dout, the input or the params, and scribbling over it must not change the next backward."""
    _, layer, xs = _pair(name, options, shape, np.float64)
    out = _forward(layer, xs)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx = layer.backward(dout)
    for other in [dout, *xs, *layer.params.values(), *layer.grads.values()]:
        assert not np.shares_memory(dx, other)
    clean, clean_grads = dx.copy(), {k: g.copy() for k, g in layer.grads.items()}
    dx[...] = np.nan
    np.testing.assert_array_equal(layer.backward(dout), clean)
    for k, g in layer.grads.items():
        np.testing.assert_array_equal(g, clean_grads[k])


def _fast_graph(nodes, input_shape):
    graph = LayerGraph(nodes, input_shape, dtype=np.float64, seed=0)
    wire(graph)
    return graph


def _dense_relu_dense():
    return [Node("d0", TWINS.get("dense")(units=4)), Node("r", TWINS.get("relu")(), ["d0"]),
            Node("d1", TWINS.get("dense")(units=3), ["r"])]


def test_alone_relu_never_overwrites_its_input_and_keeps_no_mask_in_eval_mode():
    relu = TWINS.get("relu")()
    x = np.array([[-1.0, 2.0, -3.0]])
    relu.training = False
    np.testing.assert_array_equal(relu.forward(x), [[0.0, 2.0, 0.0]])
    assert relu.kink_state() is None
    np.testing.assert_array_equal(x, [[-1.0, 2.0, -3.0]])


def test_wire_lets_relu_work_in_place_only_where_nobody_else_reads_the_arrays():
    graph = _fast_graph(_dense_relu_dense(), (5,))
    d0, relu, d1 = (n.layer for n in graph.nodes)
    assert relu.may_overwrite_input and not d0.may_overwrite_input  # the data is the caller's array
    assert relu.may_overwrite_dout and not d1.may_overwrite_dout  # d1's dout is the caller's
    forked = _fast_graph(
        [Node("h", TWINS.get("dense")(units=4)), Node("r", TWINS.get("relu")(), ["h"]),
         Node("t", TWINS.get("tanh")(), ["h"]), Node("out", LAYERS.get("add")(), ["r", "t"])], (5,))
    assert not forked.nodes[1].layer.may_overwrite_input  # tanh reads h too
    after_tanh = _fast_graph([Node("t", TWINS.get("tanh")()), Node("r", TWINS.get("relu")(), ["t"])], (5,))
    assert not after_tanh.nodes[1].layer.may_overwrite_input  # tanh caches the array it returns


def test_in_place_relu_gives_the_reference_values_and_gradients_and_leaves_data_and_dout_alone():
    rng = np.random.default_rng(3)
    fast = _fast_graph(_dense_relu_dense(), (5,))
    reference = LayerGraph([Node("d0", LAYERS.get("dense")(units=4)), Node("r", LAYERS.get("relu")(), ["d0"]),
                            Node("d1", LAYERS.get("dense")(units=3), ["r"])], (5,), dtype=np.float64, seed=0)
    x = rng.standard_normal((7, 5))
    x_before = x.copy()
    dout = rng.standard_normal((7, 3))
    dout_before = dout.copy()
    np.testing.assert_allclose(fast.forward(x), reference.forward(x), rtol=1e-12)
    np.testing.assert_allclose(fast.backward(dout), reference.backward(dout), rtol=1e-12)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)
    for key, g in reference.grads().items():
        np.testing.assert_allclose(fast.grads()[key], g, rtol=1e-12, err_msg=key)


def test_forked_relu_branch_still_sees_the_dense_output_unchanged():
    rng = np.random.default_rng(4)
    g = _fast_graph(
        [Node("h", TWINS.get("dense")(units=4)), Node("r", TWINS.get("relu")(), ["h"]),
         Node("t", TWINS.get("tanh")(), ["h"]), Node("out", LAYERS.get("add")(), ["r", "t"])], (3,))
    x = rng.standard_normal((5, 3))
    h = x @ g.params()["h.W"] + g.params()["h.b"]
    np.testing.assert_allclose(g.forward(x), np.maximum(h, 0) + np.tanh(h))


def _maxpool_cases():
    for i, (options, shape) in enumerate(LAYERS.get("maxpool2d").examples):
        for dtype in (np.float64, np.float32):
            yield pytest.param(options, shape, dtype, id=f"maxpool2d-{i}-{np.dtype(dtype).name}")


@pytest.mark.parametrize("options,shape,dtype", list(_maxpool_cases()))
def test_relu_then_max_pool_wired_as_pool_then_relu_equals_the_reference_pair(options, shape, dtype):
    """`wire` lets a max pool apply the relu before it to its own output (max and relu commute):
    on inputs full of ties, zeros and all-negative windows, the pair still gives the reference
    layers' outputs, dx, kink states (the pool's argmax is that of relu(x)) and eval outputs."""
    def graph(layers):
        return LayerGraph([Node("r", layers.get("relu")()), Node("p", layers.get("maxpool2d")(**options), ["r"])],
                          tuple(shape), dtype=dtype, seed=0)

    fast, reference = graph(TWINS), graph(LAYERS)
    wire(fast)
    relu, pool = (n.layer for n in fast.nodes)
    assert relu.left_to_pool == pool.relu_after == pool.can_apply_relu  # non-square windows keep the plain pair
    rng = np.random.default_rng(11)
    x = rng.integers(-2, 3, size=(BATCH, *shape)).astype(dtype)
    x[0] = -1.0  # every window of the first example has no positive entry
    x_before = x.copy()
    out = fast.forward(x)
    np.testing.assert_array_equal(out, reference.forward(x))
    np.testing.assert_array_equal(x, x_before)
    for key, state in reference.kink_states().items():
        np.testing.assert_array_equal(fast.kink_states()[key], state, err_msg=key)
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_allclose(fast.backward(dout), reference.backward(dout), **TOLERANCE[dtype])  # overlapping windows: sums in another order
    np.testing.assert_array_equal(fast.forward(x, training=False), reference.forward(x, training=False))
    with pytest.raises(RuntimeError, match="without a training-mode forward"):
        relu.backward(dout)


def test_relu_before_a_pool_is_left_alone_when_the_pool_is_not_its_only_reader():
    nodes = [Node("r", TWINS.get("relu")()), Node("p", TWINS.get("maxpool2d")(), ["r"]),
             Node("q", TWINS.get("avgpool2d")(), ["r"]), Node("out", LAYERS.get("add")(), ["p", "q"])]
    graph = _fast_graph(nodes, (2, 4, 4))
    assert not graph.nodes[0].layer.left_to_pool and not graph.nodes[1].layer.relu_after
    x = np.random.default_rng(2).standard_normal((3, 2, 4, 4))
    r = np.maximum(x, 0).reshape(3, 2, 2, 2, 2, 2)
    np.testing.assert_allclose(graph.forward(x), r.max(axis=(3, 5)) + r.mean(axis=(3, 5)))
