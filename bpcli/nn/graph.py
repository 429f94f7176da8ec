"""LayerGraph: a DAG of named layers; forward in topological order, backward in reverse.

Where one tensor feeds several layers its gradient is the sum of what they send back. Every
walk over the graph is an iterative loop over the precomputed order: no recursion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from bpcli.errors import ShapeError, SpecError, SpecProblem
from bpcli.nn.layer import Layer
from bpcli.nn.topology import INPUT, Wire, wiring_errors

PROBE_BATCH = 2  # examples in the forward pass that checks every layer's output shape at build time


@dataclass
class Node:
    """One named layer and the names of the tensors it reads ("input" is the data)."""

    name: str
    layer: Layer
    inputs: list[str] = field(default_factory=lambda: [INPUT])


def _problem(message: str) -> SpecError:
    return SpecError(SpecProblem(message, path="model"))


def _type_name(layer: Layer) -> str:
    return getattr(layer, "registered_name", "") or type(layer).__name__


def topological_order(nodes: list[Node]) -> list[Node]:
    """The nodes sorted by `bpcli.nn.topology` after its wiring check; SpecError naming the first problem."""
    order, errors = wiring_errors([Wire(n.name, tuple(n.inputs), n.layer.n_inputs, _type_name(n.layer)) for n in nodes])
    if errors:
        raise _problem(errors[0].message)
    by_name = {n.name: n for n in nodes}
    return [by_name[name] for name in order]


def _wrong_output(name: str, layer: Layer, declared: tuple, batch: int, out: Any) -> ShapeError:
    got = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
    return ShapeError(
        f"layer '{name}' ({_type_name(layer)}) returned {got} from forward, but its build() declared"
        f" output shape {declared}, i.e. {(batch, *declared)} for a batch of {batch}",
        node=name,
    )


def _describe_inputs(node: Node, shapes: dict[str, tuple]) -> str:
    parts = [f"'{s}' {tuple(shapes[s])}" if s != INPUT else f"the data {tuple(shapes[s])}" for s in node.inputs]
    if node.inputs == [INPUT]:
        return parts[0]
    return ("input " if len(parts) == 1 else "inputs ") + ", ".join(parts)


class LayerGraph:
    """Named layers wired by name; one input ("input"), one output (the node nobody reads)."""

    def __init__(self, nodes: list[Node], input_shape: tuple, *, dtype: Any = np.float32, seed: int = 0):
        if not nodes:
            raise _problem("the model has no layers")
        self.nodes: list[Node] = topological_order(nodes)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = np.dtype(dtype)
        self.training = True
        read = {s for n in self.nodes for s in n.inputs}
        self.output_name = next(n.name for n in self.nodes if n.name not in read)
        self.shapes: dict[str, tuple] = {INPUT: self.input_shape}
        init_rng = np.random.default_rng(seed)
        for node in self.nodes:
            node.layer.name = node.name
            in_shapes = [self.shapes[s] for s in node.inputs]
            arg = in_shapes[0] if node.layer.n_inputs == 1 else in_shapes
            try:
                out_shape = node.layer.build(arg, init_rng, self.dtype)
            except (ShapeError, ValueError) as e:
                msg = e.message if isinstance(e, ShapeError) else str(e)
                raise ShapeError(
                    f"layer '{node.name}' ({_type_name(node.layer)}) cannot take {_describe_inputs(node, self.shapes)}: {msg}",
                    node=node.name,
                ) from None
            except MemoryError as e:
                raise ShapeError(f"layer '{node.name}' ({_type_name(node.layer)}): {e or 'out of memory building its weights'}",
                                 node=node.name) from None
            if out_shape is None:
                raise ShapeError(f"layer '{node.name}' ({_type_name(node.layer)}): build() must return its output shape",
                                 node=node.name)
            self.shapes[node.name] = tuple(int(d) for d in out_shape)
            self._check_output_size(node)
        self.output_shape = self.shapes[self.output_name]
        last_use = {s: i for i, n in enumerate(self.nodes) for s in n.inputs}
        # (name, layer, inputs, single input?, tensors last read here, declared output shape) per node
        self._plan = [
            (n.name, n.layer, tuple(n.inputs), n.layer.n_inputs == 1,
             tuple(s for s, j in last_use.items() if j == i), self.shapes[n.name])
            for i, n in enumerate(self.nodes)
        ]
        self._set_input_grad_flags(True)
        self._probe()
        self._set_training(True)
        self.reseed(seed)

    def _check_output_size(self, node: Node) -> None:
        from bpcli.memory_budget import over_budget, too_large

        n_bytes = math.prod(self.shapes[node.name]) * PROBE_BATCH * self.dtype.itemsize
        if too_large(n_bytes):
            raise ShapeError(f"layer '{node.name}' ({_type_name(node.layer)}): "
                             + over_budget(n_bytes, f"its output {self.shapes[node.name]} for {PROBE_BATCH} examples"),
                             node=node.name)

    def _probe(self) -> None:
        """One eval-mode forward of PROBE_BATCH random examples: every layer must return the shape
        its build() declared (forward checks it), so a bad layer fails at build time."""
        x = np.random.default_rng(0).standard_normal((PROBE_BATCH, *self.input_shape)).astype(self.dtype)
        with np.errstate(all="ignore"):
            self.forward(x, training=False)

    # -- modes and precision -------------------------------------------------------------
    def train(self) -> None:
        self._set_training(True)

    def eval(self) -> None:
        self._set_training(False)

    def _set_training(self, training: bool) -> None:
        self.training = training
        for node in self.nodes:
            node.layer.training = training

    def to(self, dtype: Any) -> None:
        """Cast every parameter, gradient and buffer to dtype (in the same dicts)."""
        self.dtype = np.dtype(dtype)
        for node in self.nodes:
            layer = node.layer
            for store in (layer.params, layer.grads, getattr(layer, "buffers", {})):
                for k, v in store.items():
                    if v.dtype != self.dtype:
                        store[k] = v.astype(self.dtype)

    def reseed(self, seed: int) -> None:
        """Give every layer a fresh noise rng from `seed`: equal seeds give equal dropout masks."""
        streams = np.random.SeedSequence([seed, 1]).spawn(len(self.nodes))
        for node, stream in zip(self.nodes, streams):
            node.layer.rng = np.random.default_rng(stream)

    # -- passes ---------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        """Run every layer in topological order on x (N, *input_shape); returns (N, *output_shape)."""
        if training != self.training:
            self._set_training(training)
        x = np.asarray(x, dtype=self.dtype)
        if x.shape[1:] != self.input_shape:
            raise ShapeError(f"the model takes inputs of shape (N, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        values: dict[str, np.ndarray] = {INPUT: x}
        batch = x.shape[0]
        for name, layer, inputs, single, frees, declared in self._plan:
            out = layer.forward(values[inputs[0]]) if single else layer.forward(*[values[s] for s in inputs])
            if getattr(out, "shape", None) is None or out.shape[1:] != declared or out.shape[0] != batch:
                raise _wrong_output(name, layer, declared, batch, out)
            values[name] = out
            for s in frees:  # drop activations nobody reads any more
                del values[s]
        return values[self.output_name]

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> Optional[np.ndarray]:
        """Fill every layer's grads from dL/d(output); returns dL/dx (None when input_grad is False)."""
        if input_grad != self._input_grad:
            self._set_input_grad_flags(input_grad)
        pending: dict[str, np.ndarray] = {self.output_name: dout}
        owned: set[str] = set()  # sums the graph allocated itself, safe to add into in place
        for name, layer, inputs, single, _, _ in reversed(self._plan):
            g = pending.pop(name, None)
            if g is None:
                continue
            dxs = layer.backward(g)
            if single:
                dxs = (dxs,)
            for src, dx in zip(inputs, dxs):
                if dx is None or (src == INPUT and not input_grad):
                    continue
                if src not in pending:
                    pending[src] = dx
                elif src in owned:
                    pending[src] += dx
                else:
                    pending[src] = pending[src] + dx
                    owned.add(src)
        return pending.get(INPUT) if input_grad else None

    def _set_input_grad_flags(self, input_grad: bool) -> None:
        """Tell each layer whether anyone upstream needs its dx (params above it, or the data's gradient)."""
        wants_grad = {INPUT: input_grad}
        for node in self.nodes:
            layer = node.layer
            layer.needs_input_grad = any(wants_grad[s] for s in node.inputs)
            wants_grad[node.name] = layer.needs_input_grad or bool(layer.params)
        self._input_grad = input_grad

    # -- parameters and introspection -----------------------------------------------------
    def params(self) -> dict[str, np.ndarray]:
        return {f"{n.name}.{k}": v for n in self.nodes for k, v in n.layer.params.items()}

    def grads(self) -> dict[str, np.ndarray]:
        return {f"{n.name}.{k}": v for n in self.nodes for k, v in n.layer.grads.items() if k in n.layer.params}

    def buffers(self) -> dict[str, np.ndarray]:
        return {f"{n.name}.{k}": v for n in self.nodes for k, v in getattr(n.layer, "buffers", {}).items()}

    def weight_names(self) -> list[str]:
        return [
            f"{n.name}.{k}" for n in self.nodes for k in type(n.layer).weight_params if k in n.layer.params
        ]

    def kink_states(self) -> dict[str, np.ndarray]:
        states = {}
        for n in self.nodes:
            s = n.layer.kink_state()
            if s is not None:
                states[n.name] = s
        return states

    def summary(self) -> list[tuple[str, str, tuple, int]]:
        """(name, layer type, output shape, parameter count) per layer, in topological order."""
        return [
            (n.name, _type_name(n.layer), self.shapes[n.name], sum(int(math.prod(v.shape)) for v in n.layer.params.values()))
            for n in self.nodes
        ]

    def n_params(self) -> int:
        return sum(v.size for v in self.params().values())
