"""The wiring of a layer graph, checked in one place for specs and LayerGraph alike: node names,
inputs, input counts, a topological order (Kahn's algorithm) and a single output.

Pure Python: spec validation runs it before anything is built or NumPy is imported.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional, Sequence

from bpcli.errors import did_you_mean

INPUT = "input"  # the name that stands for the data in a node's inputs


class WiringError(Exception):
    """One wiring problem as fields: `node` it belongs to (None: the model as a whole), `option`
    of that node it is about ("in" or None), `problem` (the text shown at the node's line in a
    spec) and `message` (the same, standalone: it names the node)."""

    def __init__(self, problem: str, *, node: Optional[str] = None, option: Optional[str] = None,
                 message: Optional[str] = None):
        self.problem, self.node, self.option = problem, node, option
        self.message = message or problem
        super().__init__(self.message)


@dataclass(frozen=True)
class Wire:
    """What the wiring check needs of a node: its name, the names it reads, how many inputs its
    layer takes (None: two or more), the layer's type as the caller names it, and whether the node
    sits in a chain (a list model, where a layer cannot take several inputs)."""

    name: str
    inputs: tuple
    n_inputs: Optional[int]
    type_name: str
    in_chain: bool = False


def wiring_errors(wires: Sequence[Wire]) -> tuple[list[str], list[WiringError]]:
    """(node names in topological order, []) or ([], the problems): names first, then every
    node's inputs and input count, then a cycle, then the single output."""
    names = [w.name for w in wires]
    errors = _name_errors(wires) or [e for w in wires for e in _input_errors(w, names, set(names))]
    if errors:
        return [], errors
    order, cycle = topological_order(wires)
    if cycle:
        text = f"the model has a cycle: {' -> '.join(cycle)}"
        return [], [WiringError(text, node=cycle[0], option="in")]
    read = {s for w in wires for s in w.inputs}
    outputs = [w.name for w in wires if w.name not in read]
    if len(outputs) > 1:
        return [], [WiringError(
            f"the graph has several outputs ({', '.join(outputs)}); exactly one node may be unconsumed",
            node=outputs[0],
            message=f"the model needs exactly one output (a layer nobody reads), found: {', '.join(outputs)}",
        )]
    return order, []


def _name_errors(wires: Sequence[Wire]) -> list[WiringError]:
    seen: set[str] = set()
    for w in wires:
        if w.name == INPUT:
            return [WiringError(f"'{INPUT}' names the data; a layer cannot be called '{INPUT}'", node=w.name)]
        if w.name in seen:
            return [WiringError(f"two layers are named '{w.name}'", node=w.name)]
        seen.add(w.name)
    return []


def _input_errors(w: Wire, names: list[str], known: set[str]) -> list[WiringError]:
    if not w.inputs:
        return [WiringError(f"layer '{w.name}' has no inputs", node=w.name, option="in")]
    errors = [
        WiringError(
            f"unknown input '{src}'{did_you_mean(src, [INPUT, *names])}; nodes: {', '.join([INPUT, *names])}",
            node=w.name, option="in",
            message=f"layer '{w.name}' reads '{src}', which is not a layer{did_you_mean(src, sorted({*names, INPUT}))}",
        )
        for src in w.inputs if src != INPUT and src not in known
    ]
    want, got = w.n_inputs, len(w.inputs)
    standalone = f"layer '{w.name}' ({w.type_name}) takes"
    if want != 1 and w.in_chain:
        errors.append(WiringError(
            f"layer '{w.type_name}' combines several inputs, so it needs the graph form (named nodes with `in:`)",
            node=w.name,
        ))
    elif want is None and got < 2:
        errors.append(WiringError(
            f"layer '{w.type_name}' combines several inputs: give `in:` a list of two or more names",
            node=w.name, option="in", message=f"{standalone} at least 2 inputs, got {got}",
        ))
    elif want is not None and got != want:
        errors.append(WiringError(
            f"layer '{w.type_name}' takes {want} input(s), got {got}",
            node=w.name, option="in", message=f"{standalone} {want} input{'s' * (want != 1)}, got {got}",
        ))
    return errors


def topological_order(wires: Sequence[Wire]) -> tuple[list[str], list[str]]:
    """Kahn's algorithm, stable (ties keep the given order), iterative -> (names in order, []) or
    ([], one cycle as a closed list of names in data-flow order, from the node written first)."""
    pending = {w.name: len({s for s in w.inputs if s != INPUT}) for w in wires}
    consumers: dict[str, list[str]] = {w.name: [] for w in wires}
    for w in wires:
        for src in dict.fromkeys(w.inputs):
            if src != INPUT:
                consumers[src].append(w.name)
    ready = deque(w.name for w in wires if pending[w.name] == 0)
    order: list[str] = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for c in consumers[name]:
            pending[c] -= 1
            if pending[c] == 0:
                ready.append(c)
    if len(order) < len(wires):
        return [], _a_cycle(wires, set(order))
    return order, []


def _a_cycle(wires: Sequence[Wire], placed: set[str]) -> list[str]:
    """One cycle among the nodes the sort could not place."""
    inputs = {w.name: w.inputs for w in wires if w.name not in placed}
    first_seen: dict[str, int] = {}
    walk: list[str] = []
    name = next(iter(inputs))
    while name not in first_seen:  # every stuck node reads a stuck node: walk back until a repeat
        first_seen[name] = len(walk)
        walk.append(name)
        name = next(s for s in inputs[name] if s in inputs)
    loop = walk[first_seen[name]:][::-1]
    declared = [w.name for w in wires]
    start = loop.index(min(loop, key=declared.index))  # begin at the node written first
    loop = loop[start:] + loop[:start]
    return loop + [loop[0]]
