"""Set the in-place flags of the fast layers in a built LayerGraph (see FastLayer)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bpcli.fast.layer import FastLayer
from bpcli.nn.graph import INPUT


def wire(graph: Any) -> None:
    """may_overwrite_input = True where a one-input fast layer is the only reader of a tensor its
    producer returned fresh (`fresh_output`: a new array nobody else holds), so relu after dense
    works in place. may_overwrite_dout = True where the gradient of a fast layer's output is a
    scratch dx: its one reader's class sets `scratch_dx`, so relu before dense masks dense's dx in
    place. Layers that are not FastLayers are left alone."""
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
