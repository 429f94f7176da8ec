"""Set the in-place flags of the fast layers in a built LayerGraph, and give them the graph's workspace (see FastLayer)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bpcli.fast.activations import FastReLU
from bpcli.fast.layer import FastLayer
from bpcli.fast.pooling import FastMaxPool2D
from bpcli.fast.workspace import DxBuffers, Temporaries
from bpcli.nn.graph import INPUT


def wire(graph: Any) -> None:
    """may_overwrite_input = True where a one-input fast layer is the only reader of a tensor its
    producer returned fresh (`fresh_output`: a new array nobody else holds), so relu after dense
    works in place. may_overwrite_dout = True where the gradient of a fast layer's output is a
    scratch dx: its one reader's class sets `scratch_dx`, so relu before dense masks dense's dx in
    place. Then relu -> max pool pairs swap their order (`_pool_then_relu`), and the layers get
    the graph's workspace (`_share_workspace`). Layers that are not FastLayers are left alone."""
    nodes = graph.nodes
    readers = Counter(s for n in nodes for s in n.inputs)
    producers = {n.name: n.layer for n in nodes}
    reader_of = {s: n.layer for n in nodes for s in n.inputs}
    for node in nodes:
        layer = node.layer
        if not isinstance(layer, FastLayer):
            continue
        src = node.inputs[0]
        layer.may_overwrite_input = bool(
            len(node.inputs) == 1 and src != INPUT and readers[src] == 1
            and getattr(type(producers[src]), "fresh_output", False)
        )
        layer.may_overwrite_dout = bool(
            readers[node.name] == 1 and getattr(type(reader_of[node.name]), "scratch_dx", False)
        )
    _pool_then_relu(nodes, readers, reader_of)
    _share_workspace(nodes, readers)


def _share_workspace(nodes: list, readers: Counter) -> None:
    """One Temporaries for every fast layer (each call takes and releases its own, one call at a
    time). One DxBuffers too when the graph is a chain: each node reads the one before it (the
    first reads the input) and is its only reader. Then backward runs node after node and each
    dx is read by the next call only, so two alternating buffers hold them all; in any other
    graph a dx may wait while other branches run, and each layer keeps its own. A new workspace
    on every call: a graph's copy wired again shares nothing with the original."""
    temporaries, dx_buffers = Temporaries(), DxBuffers()
    chain = all(
        list(node.inputs) == [nodes[i - 1].name if i else INPUT] and readers[node.inputs[0]] == 1
        for i, node in enumerate(nodes)
    )
    for node in nodes:
        if isinstance(node.layer, FastLayer):
            node.layer.temporaries = temporaries
            node.layer.dx_buffers = dx_buffers if chain else DxBuffers()


def _pool_then_relu(nodes: list, readers: Counter, reader_of: dict) -> None:
    """Where a fast relu's one reader is a fast max pool with square windows, the pool applies relu
    to its output instead: max and relu commute (both monotone), so the mask and the maximum run on
    k² times fewer entries and dout is masked at the pool's size, while the relu passes x and dout
    through. Outputs, gradients and kink states stay those of relu then pool."""
    for node in nodes:
        layer = node.layer
        if isinstance(layer, (FastReLU, FastMaxPool2D)):
            layer.left_to_pool = layer.relu_after = False
    for node in nodes:
        relu, pool = node.layer, reader_of.get(node.name)
        if (
            type(relu) is FastReLU and type(pool) is FastMaxPool2D and readers[node.name] == 1
            and pool.can_apply_relu and relu.may_overwrite_dout
        ):
            relu.left_to_pool = pool.relu_after = True
