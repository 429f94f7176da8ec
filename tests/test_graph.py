"""LayerGraph: ordering, shape inference, fan-out sums, add/concat splits, modes, errors."""

from __future__ import annotations

import numpy as np
import pytest

import bpcli.nn.layers  # noqa: F401
from bpcli.errors import ShapeError, SpecError
from bpcli.nn.graph import LayerGraph, Node
from bpcli.nn.layer import LAYERS, Layer
from central_differences import numerical_gradient


def L(name, **options):
    return LAYERS.get(name)(**options)


def chain(*layers, input_shape=(2,), dtype=np.float64, seed=0):
    nodes, prev = [], "input"
    for i, layer in enumerate(layers):
        nodes.append(Node(f"l{i}", layer, [prev]))
        prev = f"l{i}"
    return LayerGraph(nodes, input_shape, dtype=dtype, seed=seed)


def fanout_graph():
    """x -> h (dense 4) -> a (tanh) and b (sigmoid) -> out = a + b."""
    return LayerGraph(
        [
            Node("out", L("add"), ["a", "b"]),  # given out of order on purpose
            Node("h", L("dense", units=4), ["input"]),
            Node("a", L("tanh"), ["h"]),
            Node("b", L("sigmoid"), ["h"]),
        ],
        (3,),
        dtype=np.float64,
    )


def test_nodes_are_sorted_topologically_and_shapes_inferred():
    g = fanout_graph()
    order = [n.name for n in g.nodes]
    assert order.index("h") < order.index("a") < order.index("out")
    assert order.index("b") < order.index("out")
    assert g.output_name == "out" and g.output_shape == (4,)


def test_fan_out_gradient_is_the_sum_of_both_branches():
    g = fanout_graph()
    x = np.random.default_rng(0).standard_normal((5, 3))
    dout = np.random.default_rng(1).standard_normal((5, 4))
    g.forward(x)
    dx = g.backward(dout)
    W, b = g.params()["h.W"], g.params()["h.b"]
    h = x @ W + b
    a, s = np.tanh(h), 1 / (1 + np.exp(-h))
    dh = dout * (1 - a**2) + dout * s * (1 - s)  # the two branches, summed
    np.testing.assert_allclose(g.grads()["h.W"], x.T @ dh)
    np.testing.assert_allclose(g.grads()["h.b"], dh.sum(0))
    np.testing.assert_allclose(dx, dh @ W.T)


def test_graph_gradients_match_central_differences_and_leave_dout_alone():
    g = LayerGraph(
        [
            Node("h", L("dense", units=4), ["input"]),
            Node("r", L("relu"), ["h"]),
            Node("p", L("dense", units=4), ["r"]),
            Node("res", L("add"), ["p", "h", "r"]),  # h feeds r and res; r feeds p and res
            Node("c", L("concat"), ["res", "input"]),
            Node("out", L("dense", units=2), ["c"]),
        ],
        (3,),
        dtype=np.float64,
    )
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3))
    dout = rng.standard_normal((6, 2))
    keep = dout.copy()
    g.forward(x)
    dx = g.backward(dout).copy()
    grads = {k: v.copy() for k, v in g.grads().items()}
    assert np.array_equal(dout, keep)

    def f():
        return float(np.sum(g.forward(x) * dout))

    for key, p in g.params().items():
        num, crossed = numerical_gradient(f, p, kinks=g.kink_states)
        np.testing.assert_allclose(grads[key][~crossed], num[~crossed], rtol=1e-6, atol=1e-9, err_msg=key)
    num, crossed = numerical_gradient(f, x, kinks=g.kink_states)
    np.testing.assert_allclose(dx[~crossed], num[~crossed], rtol=1e-6, atol=1e-9)


def test_add_sends_dout_to_every_input_and_concat_splits_it():
    for merge, expected in (("add", lambda d: (d, d)), ("concat", lambda d: (d[:, :2], d[:, 2:]))):
        g = LayerGraph(
            [Node("d1", L("dense", units=2 if merge == "concat" else 3)), Node("d2", L("dense", units=3)),
             Node("m", L(merge), ["d1", "d2"])],
            (4,), dtype=np.float64,
        )
        g.forward(np.ones((5, 4)))
        dout = np.random.default_rng(3).standard_normal((5,) + g.output_shape)
        g.backward(dout)
        e1, e2 = expected(dout)
        np.testing.assert_allclose(g.grads()["d1.b"], e1.sum(0))
        np.testing.assert_allclose(g.grads()["d2.b"], e2.sum(0))


def test_the_data_fed_twice_gets_twice_the_gradient():
    g = LayerGraph([Node("twice", L("add"), ["input", "input"])], (3,), dtype=np.float64)
    g.forward(np.zeros((2, 3)))
    dout = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(g.backward(dout), 2 * dout)
    np.testing.assert_array_equal(dout, np.arange(6.0).reshape(2, 3))


def test_backward_twice_gives_the_same_gradients():
    g = fanout_graph()
    g.forward(np.ones((2, 3)))
    dout = np.ones((2, 4))
    first_dx = g.backward(dout).copy()
    first = {k: v.copy() for k, v in g.grads().items()}
    second_dx = g.backward(dout)
    for k, v in g.grads().items():
        np.testing.assert_array_equal(v, first[k])
    np.testing.assert_array_equal(second_dx, first_dx)


def test_cycle_is_reported_with_its_nodes():
    with pytest.raises(SpecError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        LayerGraph(
            [Node("a", L("relu"), ["b"]), Node("b", L("relu"), ["a"]), Node("c", L("relu"), ["a"])], (2,)
        )


def test_shape_mismatch_names_both_layers_and_both_shapes():
    nodes = [Node("left", L("dense", units=3)), Node("right", L("dense", units=4)), Node("sum", L("add"), ["left", "right"])]
    with pytest.raises(ShapeError) as e:
        LayerGraph(nodes, (2,))
    msg = e.value.message
    for part in ("'sum'", "'left' (3,)", "'right' (4,)"):
        assert part in msg
    with pytest.raises(ShapeError, match=r"layer 'conv' \(conv2d\) cannot take input 'fc' \(10,\)"):
        LayerGraph([Node("fc", L("dense", units=10)), Node("conv", L("conv2d"), ["fc"])], (2,))


@pytest.mark.parametrize("nodes,message", [
    (lambda: [Node("a", L("relu"), ["nope"])], "reads 'nope'"),
    (lambda: [Node("a", L("relu"), ["inptu"])], "did you mean 'input'"),
    (lambda: [Node("a", L("relu")), Node("a", L("relu"))], "two layers are named 'a'"),
    (lambda: [Node("a", L("relu")), Node("b", L("relu"))], "exactly one output"),
    (lambda: [Node("s", L("add"), ["input"])], "at least 2 inputs"),
    (lambda: [Node("r", L("relu"), ["input", "input"])], "takes 1 input"),
    (lambda: [Node("input", L("relu"))], "names the data"),
])
def test_broken_wiring_is_a_spec_error(nodes, message):
    with pytest.raises(SpecError, match=message):
        LayerGraph(nodes(), (2,))


def test_wrong_data_shape_is_a_shape_error():
    g = chain(L("dense", units=2), input_shape=(3,))
    with pytest.raises(ShapeError, match=r"\(N, 3\).*\(4, 5\)"):
        g.forward(np.zeros((4, 5)))


def test_params_grads_weight_names_summary():
    g = chain(L("dense", units=100), L("batchnorm"), L("relu"), L("dense", units=3))
    assert list(g.params()) == ["l0.W", "l0.b", "l1.gamma", "l1.beta", "l3.W", "l3.b"]
    assert list(g.grads()) == list(g.params())
    assert g.weight_names() == ["l0.W", "l3.W"]
    assert list(g.buffers()) == ["l1.running_mean", "l1.running_var"]
    assert g.summary() == [
        ("l0", "dense", (100,), 2 * 100 + 100),
        ("l1", "batchnorm", (100,), 200),
        ("l2", "relu", (100,), 0),
        ("l3", "dense", (3,), 100 * 3 + 3),
    ]
    assert g.params()["l0.W"] is g.nodes[0].layer.params["W"]  # live arrays


def test_dtype_and_to():
    g = chain(L("dense", units=3), L("batchnorm"), dtype=np.float32)
    assert g.forward(np.ones((2, 2))).dtype == np.float32
    g.to(np.float64)
    assert all(v.dtype == np.float64 for d in (g.params(), g.grads(), g.buffers()) for v in d.values())
    out = g.forward(np.ones((2, 2), dtype=np.float32))
    assert out.dtype == np.float64
    g.backward(np.ones_like(out))
    assert all(v.dtype == np.float64 for v in g.grads().values())


def test_same_seed_same_weights_and_dropout_masks():
    def make(seed):
        return chain(L("dense", units=20), L("dropout", p=0.5), input_shape=(5,), seed=seed)

    x = np.ones((8, 5))
    a, b, c = make(1), make(1), make(2)
    np.testing.assert_array_equal(a.params()["l0.W"], b.params()["l0.W"])
    assert not np.array_equal(a.params()["l0.W"], c.params()["l0.W"])
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    a.reseed(5)
    first = a.forward(x)
    assert not np.array_equal(first, a.forward(x))  # fresh noise each step
    a.reseed(5)
    np.testing.assert_array_equal(first, a.forward(x))


def test_eval_mode_turns_off_dropout_and_caches_nothing():
    g = chain(L("dense", units=10), L("dropout", p=0.5), L("relu"), input_shape=(3,))
    x = np.random.default_rng(0).standard_normal((4, 3))
    out = g.forward(x, training=False)
    W, b = g.params()["l0.W"], g.params()["l0.b"]
    np.testing.assert_allclose(out, np.maximum(x @ W + b, 0))
    with pytest.raises(RuntimeError):
        g.backward(np.ones_like(out))
    assert g.kink_states() == {}
    g.forward(x, training=True)
    assert set(g.kink_states()) == {"l2"}


def test_input_grad_false_skips_the_data_gradient_but_fills_params():
    g = chain(L("dense", units=3), L("tanh"), L("dense", units=2))
    x = np.random.default_rng(1).standard_normal((4, 2))
    g.forward(x)
    dout = np.ones((4, 2))
    dx = g.backward(dout).copy()
    full = {k: v.copy() for k, v in g.grads().items()}
    assert g.backward(dout, input_grad=False) is None
    assert g.nodes[0].layer.needs_input_grad is False
    for k, v in g.grads().items():
        np.testing.assert_array_equal(v, full[k])
    np.testing.assert_array_equal(g.backward(dout), dx)  # and back on again


def test_a_deep_chain_needs_no_recursion():
    g = chain(*[L("tanh") for _ in range(5000)], input_shape=(2,))
    x = np.full((1, 2), 0.1)
    out = g.forward(x)
    assert out.shape == (1, 2)
    assert g.backward(np.ones_like(out)).shape == (1, 2)


def test_a_user_layer_whose_build_forgets_the_shape_is_named():
    from bpcli.nn.layer import Layer

    class Forgetful(Layer):
        def build(self, input_shape, rng, dtype):
            self.params["W"] = np.zeros((2, 2))

    with pytest.raises(ShapeError, match=r"layer 'mine' \(Forgetful\): build\(\) must return"):
        LayerGraph([Node("mine", Forgetful())], (2,))


class _Squeezer(Layer):
    """Declares (4,) per example; returns (N, 1), or (N, 4) only for batches of `good_batch`."""

    def __init__(self, good_batch: int = -1):
        super().__init__()
        self.good_batch = good_batch

    def build(self, input_shape, rng, dtype):
        return (4,)

    def forward(self, x):
        return np.zeros((x.shape[0], 4 if x.shape[0] == self.good_batch else 1), dtype=x.dtype)

    def backward(self, dout):
        return np.zeros((dout.shape[0], 4), dtype=dout.dtype)


def test_a_layer_returning_another_shape_than_it_declared_fails_at_build():
    with pytest.raises(ShapeError) as info:
        chain(L("dense", units=4), _Squeezer(), L("dense", units=3), input_shape=(4,))
    message = info.value.message
    assert "'l1'" in message and "(4,)" in message and "(2, 1)" in message


def test_the_output_shape_is_checked_on_every_batch_size():
    from bpcli.nn.graph import PROBE_BATCH

    graph = chain(L("dense", units=4), _Squeezer(good_batch=PROBE_BATCH), L("dense", units=3), input_shape=(4,))
    assert graph.forward(np.zeros((PROBE_BATCH, 4))).shape == (PROBE_BATCH, 3)
    with pytest.raises(ShapeError, match=r"'l1'.*\(5, 1\).*\(4,\)"):
        graph.forward(np.zeros((5, 4)))
