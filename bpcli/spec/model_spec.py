"""The `model:` section: a list (a chain) or a mapping of named nodes with `in:` edges.

A layer item is `relu`, `{dense: 100}` (the layer's shorthand option), `{dense: {units: 100}}`
or `{type: dense, units: 100}`. In the graph form each node may name its inputs with `in:`
(a name or a list; `input` is the data; default: the node above it), and the output is the
one node nobody consumes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from bpcli.errors import BpcliError, SpecError
from bpcli.nn.topology import INPUT, Wire, wiring_errors
from bpcli.registry import UnknownName
from bpcli.spec.options import check_options, describe, options_for
from bpcli.spec.problems import Problems
from bpcli.spec.registries import layer_registry
from bpcli.spec.user_layers import UserLayerError, is_user_layer, load_user_layer
from bpcli.spec.yaml_loader import Where

RESERVED = ("type", "in", "name")
NODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")  # ASCII: names become parameter keys and CLI paths


@dataclass
class NodeSpec:
    """One validated layer of the model: what to build and where it was written."""

    name: str
    type: str
    options: dict[str, Any]  # every option, defaults filled in
    inputs: list[str]
    layer_class: type
    path: tuple = ()  # key path in the spec, e.g. ("model", 2)
    where: Optional[Where] = None
    explicit_name: bool = False
    given: dict[str, Any] = field(default_factory=dict)  # options as written (for to_dict)

    def make_layer(self):
        """A fresh, unbuilt layer instance."""
        layer = self.layer_class(**self.options)
        return layer


Resolver = Callable[[Any], "tuple[Optional[type], str]"]


def layer_resolver(base_dir: Path) -> Resolver:
    """type name -> (layer class, "") or (None, why it cannot be resolved)."""
    registry = layer_registry()

    def resolve(type_name: Any) -> tuple[Optional[type], str]:
        if not isinstance(type_name, str):
            return None, f"a layer type must be a name, got {describe(type_name)}"
        try:
            if is_user_layer(type_name):
                return load_user_layer(type_name, base_dir), ""
            return registry.get(type_name), ""
        except (UserLayerError, UnknownName) as err:
            return None, str(err)

    return resolve


def normalize_item(item: Any, path: tuple, problems: Problems, resolve: Resolver) -> Any:
    """Rewrite one layer item in long form `{type: T, **options}`; positions follow the values.
    Items it cannot rewrite are returned unchanged (with a problem reported)."""
    if isinstance(item, str):
        problems.mark(path + ("type",), problems.where(path))
        return {"type": item}
    if not isinstance(item, dict):
        problems.add(path, f"expected a layer (a name or a mapping), got {describe(item)}")
        return item
    if "type" in item:
        return item
    heads = [k for k in item if k not in RESERVED]
    if len(heads) != 1:
        problems.add(
            path,
            "a layer item needs `type:` or exactly one layer name as its key"
            + (f" (found {', '.join(map(str, heads))})" if heads else ""),
        )
        return item
    head = heads[0]
    value = item[head]
    out = {"type": head, **{k: item[k] for k in item if k in RESERVED and k != "type"}}
    key_where = problems.where(path + (head,))
    problems.mark(path + ("type",), Where(key_where.file, key_where.key_line, key_where.key_col))
    if value is None:
        return out
    if isinstance(value, dict):
        for key in value:
            if key in out:
                problems.add(path + (head, key), f"'{key}' given twice", at_key=True)
        problems.copy_marks(path + (head,), path)
        out.update(value)
        return out
    cls, why = resolve(head)
    if cls is None:
        problems.add(path + ("type",), why)
        return item
    shorthand = getattr(cls, "shorthand", None)
    if not shorthand:
        problems.add(
            path + (head,),
            f"layer '{head}' has no shorthand option; write {{type: {head}, OPTION: VALUE}}",
        )
        return item
    problems.mark(path + (shorthand,), key_where)
    out[shorthand] = value
    return out


def normalize_model(model: Any, problems: Problems, resolve: Resolver) -> Any:
    """Every item of a list or graph model in long form (idempotent)."""
    if isinstance(model, list):
        return [normalize_item(item, ("model", i), problems, resolve) for i, item in enumerate(model)]
    if isinstance(model, dict):
        return {
            name: normalize_item(item, ("model", name), problems, resolve) for name, item in model.items()
        }
    return model


def parse_model(model: Any, problems: Problems, base_dir: Path) -> tuple[list[NodeSpec], str]:
    """Validate a model section already rewritten by `normalize_model` (which reported the items
    it could not rewrite) -> (nodes in topological order, "list" or "graph")."""
    if model is None and ("model",) in problems.positions:
        problems.add(("model",), "model is empty: give a list of layers or a mapping of named nodes")
        return [], "list"
    if model is None:
        problems.add((), "missing the `model:` section (a list of layers or a mapping of named nodes)")
        return [], "list"
    if not isinstance(model, (list, dict)) or not model:
        problems.add(("model",), f"model must be a non-empty list of layers or mapping of named nodes, got {describe(model)}")
        return [], "list"
    form = "list" if isinstance(model, list) else "graph"
    nodes = _list_nodes(model, problems, base_dir) if form == "list" else _graph_nodes(model, problems, base_dir)
    if len(nodes) != len(model) or problems:
        return nodes, form
    return _check_graph(nodes, problems), form


def _list_nodes(model: list, problems: Problems, base_dir: Path) -> list[NodeSpec]:
    nodes: list[NodeSpec] = []
    counts: dict[str, int] = {}
    previous = INPUT
    names: dict[str, tuple] = {}
    for i, item in enumerate(model):
        path = ("model", i)
        if isinstance(item, dict) and "in" in item:
            problems.add(path + ("in",), "`in:` belongs to the graph form (a mapping of named nodes); a list is a chain", at_key=True)
        node = _node(item, path, problems, base_dir)
        if node is None:
            continue
        if isinstance(item.get("name"), str):
            node.name, node.explicit_name = item["name"], True
        elif "name" in item:
            problems.add(path + ("name",), f"a layer name must be a string, got {describe(item['name'])}")
        else:
            base = node.layer_class.__name__.lower() if is_user_layer(node.type) else node.type
            counts[base] = counts.get(base, 0) + 1
            node.name = f"{base}{counts[base]}"
        if node.name in names or node.name == INPUT:
            problems.add(path + ("name",), f"layer name '{node.name}' is used twice (or is the reserved 'input')")
        names[node.name] = path
        node.inputs = [previous]
        previous = node.name
        nodes.append(node)
    return nodes


def _graph_nodes(model: dict, problems: Problems, base_dir: Path) -> list[NodeSpec]:
    nodes: list[NodeSpec] = []
    previous = INPUT
    for name, item in model.items():
        path = ("model", name)
        why = _bad_node_name(name)
        if why:
            problems.add(path, why, at_key=True)
            continue
        if isinstance(item, dict) and "name" in item:
            problems.add(path + ("name",), "in the graph form the mapping key is the node's name", at_key=True)
        node = _node(item, path, problems, base_dir)
        if node is None:
            continue
        node.name, node.explicit_name = name, True
        inputs = item.get("in", previous) if isinstance(item, dict) else previous
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(x, str) for x in inputs):
            problems.add(path + ("in",), f"`in:` must be a node name or a list of names, got {describe(inputs)}")
            continue
        node.inputs = inputs
        previous = name
        nodes.append(node)
    return nodes


def _bad_node_name(name: Any) -> str:
    """Why `name` cannot name a node in the graph form, or ""."""
    if name == INPUT:
        return f"'{INPUT}' names the data; choose another node name"
    if not isinstance(name, str) or not NODE_NAME.fullmatch(name):
        return f"node name '{name}' must be ASCII letters, digits, '_' or '-', not starting with a digit"
    return ""


def _node(item: Any, path: tuple, problems: Problems, base_dir: Path) -> Optional[NodeSpec]:
    """Resolve the type and check the options of one long-form item."""
    if not isinstance(item, dict) or "type" not in item:
        return None  # normalize_item reported it
    type_name = item["type"]
    type_path = path + ("type",)
    if not isinstance(type_name, str):
        problems.add(type_path, f"a layer type must be a name, got {describe(type_name)}")
        return None
    cls, why = layer_resolver(base_dir)(type_name)
    if cls is None:
        problems.add(type_path, why)
        return None
    given = {k: v for k, v in item.items() if k not in RESERVED}
    before = len(problems.items)
    options = check_options(options_for(cls), given, path, problems, f"layer '{type_name}'")
    if len(problems.items) > before:
        return None
    if not _constructs(cls, options, type_name, path, problems):
        return None
    return NodeSpec("", type_name, options, [], cls, path, problems.where(path), given=given)


def _constructs(cls: type, options: dict, type_name: str, path: tuple, problems: Problems) -> bool:
    """Instantiate the layer once so checks in its __init__ land at the right option's line."""
    try:
        cls(**options)
    except SpecError as err:  # a layer's own option check: problem.path names the option
        for p in err.problems:
            key = p.path if p.path in options else "type"
            problems.add(path + (key,), p.message)
        return False
    except UnknownName as err:  # e.g. init: hee
        key = next((k for k, v in options.items() if v == err.name), "type")
        problems.add(path + (key,), str(err))
        return False
    except (BpcliError, ValueError, TypeError) as err:  # OptionError names its option as a field
        key = getattr(err, "option", None)
        key = key if key in options else "type"
        problems.add(path + (key,), f"invalid options for layer '{type_name}': {err}")
        return False
    return True


def _check_graph(nodes: list[NodeSpec], problems: Problems) -> list[NodeSpec]:
    """The wiring check of `bpcli.nn.topology`, each problem at its node's line; nodes sorted."""
    wires = [
        Wire(n.name, tuple(n.inputs), getattr(n.layer_class, "n_inputs", 1), n.type, isinstance(n.path[-1], int))
        for n in nodes
    ]
    order, errors = wiring_errors(wires)
    by_name = {n.name: n for n in nodes}
    for err in errors:
        path = by_name[err.node].path if err.node in by_name else ("model",)
        problems.add(path + ((err.option,) if err.option else ()), err.problem)
    return [by_name[name] for name in order] if not errors else nodes
