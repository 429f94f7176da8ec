"""The memory the fast layers of one graph share (bpcli/fast/workspace.py): temporaries of one call,
dx buffers that take turns, and replicas of a wired graph (copy.deepcopy) that share none of it."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pytest

from bpcli.fast import TWINS, wire
from bpcli.fast import conv
from bpcli.fast.buffers import Scratch
from bpcli.fast.workspace import DxBuffers, Temporaries
from bpcli.nn.graph import LayerGraph, Node
from bpcli.nn.layer import LAYERS


def test_temporaries_of_one_call_never_overlap_and_the_next_call_reuses_one_block():
    temp = Temporaries()
    temp.release()
    a = temp.take((3, 5), np.float64)
    b = temp.take((7,), np.float32, order=None)
    c = temp.take((2, 3, 4), np.float64, order=(0, 2, 1))  # memory (2, 4, 3): logical (2, 3, 4)
    assert c.shape == (2, 3, 4) and c.transpose(0, 2, 1).flags.c_contiguous
    arrays = (a, b, c)
    for i, x in enumerate(arrays):
        for y in arrays[i + 1:]:
            assert not np.shares_memory(x, y)
    for x, value in zip(arrays, (1.0, 2.0, 3.0)):
        x[...] = value
    assert (a == 1).all() and (b == 2).all() and (c == 3).all()  # none wrote over another
    temp.release()  # the block now holds all three at once
    [block] = temp.blocks()
    assert block.size >= a.nbytes + b.nbytes + c.nbytes
    again = [temp.take((3, 5), np.float64), temp.take((7,), np.float32), temp.take((2, 3, 4), np.float64)]
    assert all(np.shares_memory(x, block) for x in again)
    assert not any(np.shares_memory(x, y) for i, x in enumerate(again) for y in again[i + 1:])


def test_dx_buffers_alternate_so_dx_never_shares_memory_with_its_dout():
    buffers = DxBuffers()
    first = buffers.get((4, 3), np.float64, dout=np.ones((4, 3)))
    second = buffers.get((4, 3), np.float64, dout=first)  # the layer below reads `first` as dout
    third = buffers.get((2, 6), np.float64, dout=second)
    assert not np.shares_memory(first, second) and not np.shares_memory(second, third)
    assert np.shares_memory(first, third)  # two blocks in turn
    view = second[:, 1:]  # a dout that is a view into a block (e.g. conv's dx: the grid's interior)
    assert not np.shares_memory(buffers.get((4, 3), np.float64, dout=view), view)


def test_dx_handed_out_keeps_its_values_after_the_buffers_let_go():
    buffers = DxBuffers()
    dx = buffers.get((5,), np.float64, dout=None)
    dx[...] = 7.0
    buffers.let_go()
    assert buffers.blocks() == []
    fresh = buffers.get((5,), np.float64, dout=None)
    fresh[...] = -1.0
    np.testing.assert_array_equal(dx, 7.0)


def _chain(layers=TWINS):
    """conv 3 -> 8 (whole cols), relu, conv 8 -> 16 (cols by chunks on one BLAS thread), relu, conv 16 -> 16
    (shifted GEMMs), relu left to the max pool, flatten, dense: every fast conv route and a dx through each."""
    conv2d = lambda filters: layers.get("conv2d")(filters=filters, kernel=3, padding=1)  # noqa: E731
    return [
        Node("c0", conv2d(8)), Node("r0", layers.get("relu")(), ["c0"]),
        Node("c1", conv2d(16), ["r0"]), Node("r1", layers.get("relu")(), ["c1"]),
        Node("c2", conv2d(16), ["r1"]), Node("r2", layers.get("relu")(), ["c2"]),
        Node("p", layers.get("maxpool2d")(), ["r2"]), Node("f", LAYERS.get("flatten")(), ["p"]),
        Node("d", layers.get("dense")(units=3), ["f"]),
    ]


@pytest.fixture
def one_blas_thread_routes(monkeypatch):
    """The routes a replica takes: BLAS on one thread (cols by chunks), a chunk of a few images."""
    monkeypatch.setattr(conv.openblas, "threads", lambda: 1)
    monkeypatch.setattr(conv, "CHUNK_BYTES", 2 * 8 * 8 * 9 * 8 * 8)  # two images of c1's cols


def _wired_chain():
    graph = LayerGraph(_chain(), (3, 8, 8), dtype=np.float64, seed=0)
    wire(graph)
    return graph


def test_wire_shares_one_workspace_in_a_chain_and_keeps_dx_apart_in_a_fork():
    graph = _wired_chain()
    fast = [n.layer for n in graph.nodes if n.name != "f"]
    assert len({id(layer.temporaries) for layer in fast}) == 1
    assert len({id(layer.dx_buffers) for layer in fast}) == 1
    forked = LayerGraph([Node("h", TWINS.get("dense")(units=4)), Node("r", TWINS.get("relu")(), ["h"]),
                         Node("t", TWINS.get("tanh")(), ["h"]), Node("out", LAYERS.get("add")(), ["r", "t"])],
                        (5,), dtype=np.float64, seed=0)
    wire(forked)
    h, r, t = (n.layer for n in forked.nodes[:3])
    assert h.temporaries is r.temporaries is t.temporaries
    assert len({id(h.dx_buffers), id(r.dx_buffers), id(t.dx_buffers)}) == 3  # r's and t's dx both wait for h


def test_wired_chain_with_shared_buffers_gives_the_reference_graphs_outputs_and_gradients(one_blas_thread_routes):
    fast = _wired_chain()
    reference = LayerGraph(_chain(LAYERS), (3, 8, 8), dtype=np.float64, seed=0)
    for key, p in reference.params().items():
        p[...] = fast.params()[key]
    rng = np.random.default_rng(8)
    for batch in (4, 3):  # a second step, other shapes: the buffers are reused and resized
        x = rng.standard_normal((batch, 3, 8, 8))
        dout = rng.standard_normal((batch, 3))
        np.testing.assert_allclose(fast.forward(x), reference.forward(x), rtol=1e-10)
        np.testing.assert_allclose(fast.backward(dout), reference.backward(dout), rtol=1e-9, atol=1e-12)
        for key, g in reference.grads().items():
            np.testing.assert_allclose(fast.grads()[key], g, rtol=1e-9, atol=1e-12, err_msg=key)


def _held_arrays(graph) -> list:
    """Every array a graph's layers hold besides their parameters: workspace blocks, Scratch buffers, caches, grads."""
    held = []

    def collect(value, depth=0):
        if isinstance(value, np.ndarray):
            held.append(value)
        elif isinstance(value, (Temporaries, DxBuffers)):
            held.extend(value.blocks())
        elif isinstance(value, Scratch):
            collect(value.array)
        elif isinstance(value, (list, tuple)):
            for v in value:
                collect(v, depth)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v, depth)
        elif hasattr(value, "__dataclass_fields__") and depth == 0:  # a layer's cache
            for v in vars(value).values():
                collect(v, depth + 1)

    for node in graph.nodes:
        for key, value in vars(node.layer).items():
            if key != "params":
                collect(value)
    return [a for a in held if a is not None and a.size]


def _step(graph, x, dout) -> dict:
    out = graph.forward(x)
    dx = graph.backward(dout)
    return {"out": out.copy(), "dx": dx.copy(), **{k: g.copy() for k, g in graph.grads().items()}}


def test_replicas_of_a_wired_graph_share_no_buffer_and_run_halves_concurrently_as_in_turn(one_blas_thread_routes):
    """What batch_split does: deep copies sharing only the parameters, each on half the batch in its own thread."""
    graph = _wired_chain()
    replicas = [graph] + [copy.deepcopy(graph, {id(p): p for p in graph.params().values()}) for _ in range(2)]
    rng = np.random.default_rng(9)
    halves = [rng.standard_normal((3, 3, 8, 8)) for _ in range(3)]
    douts = [rng.standard_normal((3, 3)) for _ in range(3)]
    in_turn = [_step(g, x, d) for g, x, d in zip(replicas, halves, douts)]
    np.testing.assert_array_equal(in_turn[0]["d.W"], _step(replicas[0], halves[0], douts[0])["d.W"])

    concurrent: list = [None] * 3
    start = threading.Barrier(3)

    def run(i):
        start.wait()
        for _ in range(5):  # several steps at once: any shared buffer would be written by both threads
            concurrent[i] = _step(replicas[i], halves[i], douts[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(3):
        for key, want in in_turn[i].items():
            np.testing.assert_array_equal(concurrent[i][key], want, err_msg=f"replica {i} {key}")
    held = [_held_arrays(g) for g in replicas]
    assert all(held)
    for i in range(3):
        for j in range(i + 1, 3):
            for a in held[i]:
                assert not any(np.shares_memory(a, b) for b in held[j]), f"replicas {i} and {j} share a buffer"
    for i in range(3):  # the parameters stay shared
        for key, p in graph.params().items():
            assert replicas[i].params()[key] is p
