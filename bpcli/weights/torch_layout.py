"""A chain of bpcli layers as the equivalent torch.nn.Sequential, and where each state_dict entry
comes from.

| bpcli layer | torch module | state_dict entries (bpcli array, layout) |
|---|---|---|
| dense (input of rank > 1) | Flatten, then Linear | N.weight = W transposed (units, D); N.bias = b |
| conv2d | Conv2d | N.weight = W (F, C, kh, kw) as is; N.bias = b |
| conv1d | Conv1d | N.weight = W (F, C, k) as is; N.bias = b |
| batchnorm | BatchNorm1d / BatchNorm2d | N.weight = gamma, N.bias = beta, N.running_mean, N.running_var, N.num_batches_tracked (0) |
| layernorm | LayerNorm(input shape) | N.weight = gamma, N.bias = beta |
| groupnorm, spatial_groupnorm | GroupNorm(groups, C) | N.weight = gamma, N.bias = beta |
| relu, leaky_relu, elu, sigmoid, tanh, softmax, log_softmax, dropout, flatten, maxpool2d, avgpool2d | ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Softmax, LogSoftmax, Dropout, Flatten, MaxPool2d, AvgPool2d | none |

N is the module's index in the Sequential (a dense layer on images takes two indices: Flatten, Linear).
Graph models (add, concat), expr layers and user layers have no Sequential twin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from bpcli.errors import UsageError

TRANSPOSED = "transposed"
SAME = "same"


@dataclass
class TorchEntry:
    """One state_dict entry: torch name, the bpcli array it is ("node.W" or a buffer), its layout."""

    name: str
    source: str
    layout: str = SAME
    kind: str = "param"  # "param", "buffer" or "counter" (num_batches_tracked: no bpcli array)


@dataclass
class TorchModule:
    """One module of the Sequential: torch.nn.<module>(**args), made from bpcli node `node`."""

    module: str
    args: dict
    node: Optional[str]


@dataclass
class TorchLayout:
    modules: list[TorchModule] = field(default_factory=list)
    entries: list[TorchEntry] = field(default_factory=list)

    def to_json(self) -> list[dict]:
        return [{"index": i, "module": m.module, "args": m.args, "from": m.node} for i, m in enumerate(self.modules)]


def _pair(v: Any) -> Any:
    return list(v) if isinstance(v, (tuple, list)) else v


def _single_axis(layer: Any, what: str) -> int:
    axis = layer.axis
    if isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            raise UsageError(f"{layer.name}: {what} over several axes {list(axis)} has no torch module")
        axis = axis[0]
    return int(axis)


def _affine(node: str, layer: Any, in_shape: tuple) -> list:
    modules = [] if len(in_shape) == 1 else [("Flatten", {}, [])]
    params = [("weight", "W", TRANSPOSED)] + ([("bias", "b", SAME)] if layer.bias else [])
    return modules + [("Linear", {"in_features": int(_prod(in_shape)), "out_features": layer.units, "bias": layer.bias}, params)]


def _conv2d(node: str, layer: Any, in_shape: tuple) -> list:
    params = [("weight", "W", SAME)] + ([("bias", "b", SAME)] if layer.bias else [])
    args = {"in_channels": in_shape[0], "out_channels": layer.filters, "kernel_size": _pair(layer.kernel),
            "stride": _pair(layer.stride), "padding": _pair(layer.padding), "bias": layer.bias}
    return [("Conv2d", args, params)]


def _conv1d(node: str, layer: Any, in_shape: tuple) -> list:
    params = [("weight", "W", SAME)] + ([("bias", "b", SAME)] if layer.bias else [])
    args = {"in_channels": in_shape[0], "out_channels": layer.filters, "kernel_size": layer.kernel,
            "stride": layer.stride, "padding": layer.padding, "bias": layer.bias}
    return [("Conv1d", args, params)]


def _pool(module: str) -> Callable:
    def convert(node: str, layer: Any, in_shape: tuple) -> list:
        return [(module, {"kernel_size": _pair(layer.size), "stride": _pair(layer.stride)}, [])]

    return convert


def _batchnorm(node: str, layer: Any, in_shape: tuple) -> list:
    module = "BatchNorm1d" if len(in_shape) == 1 else "BatchNorm2d"
    args = {"num_features": in_shape[0], "eps": layer.eps, "momentum": round(1.0 - layer.momentum, 12)}
    params = [("weight", "gamma", SAME), ("bias", "beta", SAME),
              ("running_mean", "running_mean", "buffer"), ("running_var", "running_var", "buffer"),
              ("num_batches_tracked", "", "counter")]
    return [(module, args, params)]


def _simple(module: str, args: Optional[Callable] = None) -> Callable:
    def convert(node: str, layer: Any, in_shape: tuple) -> list:
        return [(module, args(layer) if args else {}, [])]

    return convert


CONVERTERS: dict[str, Callable] = {
    "dense": _affine,
    "conv2d": _conv2d,
    "conv1d": _conv1d,
    "maxpool2d": _pool("MaxPool2d"),
    "avgpool2d": _pool("AvgPool2d"),
    "batchnorm": _batchnorm,
    "layernorm": lambda node, layer, s: [("LayerNorm", {"normalized_shape": list(s), "eps": layer.eps},
                                          [("weight", "gamma", SAME), ("bias", "beta", SAME)])],
    "groupnorm": lambda node, layer, s: [("GroupNorm", {"num_groups": layer.groups, "num_channels": s[0], "eps": layer.eps},
                                          [("weight", "gamma", SAME), ("bias", "beta", SAME)])],
    "relu": _simple("ReLU"),
    "leaky_relu": _simple("LeakyReLU", lambda layer: {"negative_slope": layer.alpha}),
    "elu": _simple("ELU", lambda layer: {"alpha": layer.alpha}),
    "sigmoid": _simple("Sigmoid"),
    "tanh": _simple("Tanh"),
    "softmax": _simple("Softmax", lambda layer: {"dim": _single_axis(layer, "softmax") if hasattr(layer, "axis") else 1}),
    "log_softmax": _simple("LogSoftmax", lambda layer: {"dim": _single_axis(layer, "log_softmax")}),
    "dropout": _simple("Dropout", lambda layer: {"p": layer.p}),
    "flatten": _simple("Flatten"),
}
CONVERTERS["spatial_groupnorm"] = CONVERTERS["groupnorm"]


def _prod(shape: tuple) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out


def type_name(layer: Any) -> str:
    return getattr(type(layer), "registered_name", "") or type(layer).__name__


def torch_layout(graph: Any) -> TorchLayout:
    """The Sequential equivalent of a chain model; UsageError naming the first node that has none."""
    layout = TorchLayout()
    previous = "input"
    for node in graph.nodes:
        if list(node.inputs) != [previous]:
            raise UsageError(
                f"layer '{node.name}' reads {', '.join(node.inputs)}: a graph model has no torch.nn.Sequential "
                "equivalent; export it with --names bpcli"
            )
        kind = type_name(node.layer)
        convert = CONVERTERS.get(kind)
        if convert is None:
            raise UsageError(f"layer '{node.name}' ({kind}) has no torch module equivalent; export it with --names bpcli")
        for module, args, params in convert(node.name, node.layer, tuple(graph.shapes[previous])):
            index = len(layout.modules)
            layout.modules.append(TorchModule(module, args, node.name))
            for torch_param, bpcli_name, layout_kind in params:
                kind_of = layout_kind if layout_kind in ("buffer", "counter") else "param"
                source = f"{node.name}.{bpcli_name}" if bpcli_name else ""
                layout.entries.append(TorchEntry(f"{index}.{torch_param}", source,
                                                 TRANSPOSED if layout_kind == TRANSPOSED else SAME, kind_of))
        previous = node.name
    return layout
