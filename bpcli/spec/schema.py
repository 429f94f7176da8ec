"""The JSON Schema of a spec, generated from the registries (so editors can complete YAML).

Layers are a oneOf picked by `type:` (and by the single key of the shorthand forms); every
option's JSON type, bounds and default come from the same signatures validation reads.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Literal, Union

from bpcli.spec.constraints import bounds_of
from bpcli.spec.defaults import DEFAULT_SECTIONS
from bpcli.spec.options import REQUIRED, SEQUENCES, Option, _unwrap, options_for, options_for_dataclass
from bpcli.spec.registries import SECTION_KINDS, layer_registry
from bpcli.spec.sections import EXTRA_OPTIONS
from bpcli.training.options import TrainOptions

USER_LAYER_PATTERN = r"^[^:\s]+:[A-Za-z_][A-Za-z0-9_]*$"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def spec_schema() -> dict[str, Any]:
    """The whole schema: sections, model in both forms, layers in $defs."""
    registry = layer_registry()
    defs: dict[str, Any] = {}
    for name, cls in registry.items():
        defs[f"layer_{name}"] = _layer_long(name, cls)
        defs[f"layer_{name}_short"] = _layer_short(name, cls)
    node_refs = [{"$ref": f"#/$defs/layer_{n}"} for n in registry.names()]
    node_refs += [{"$ref": f"#/$defs/layer_{n}_short"} for n in registry.names()]
    defs["user_layer"] = {
        "type": "object",
        "description": "Your own Layer subclass: FILE.py:Class (relative to the spec) or package.module:Class",
        "properties": {"type": {"type": "string", "pattern": USER_LAYER_PATTERN}},
        "required": ["type"],
    }
    layer_name = {"anyOf": [{"enum": registry.names()}, {"type": "string", "pattern": USER_LAYER_PATTERN}]}
    defs["list_item"] = {"anyOf": [layer_name, *node_refs, {"$ref": "#/$defs/user_layer"}]}
    defs["graph_node"] = defs["list_item"]
    return {
        "$schema": DRAFT,
        "title": "bpcli spec",
        "description": "A bpcli model spec (bpcli schema). Every section but model has defaults; see `bpcli show`.",
        "type": "object",
        "additionalProperties": False,
        "required": ["model"],
        "properties": {
            "seed": {"type": "integer", "minimum": 0, "default": 0},
            "data": _typed_section("data"),
            "model": {
                "description": "A list of layers (a chain) or a mapping of named nodes with `in:` edges.",
                "oneOf": [
                    {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/list_item"}},
                    {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/$defs/graph_node"}},
                ],
            },
            **{name: _typed_section(name) for name in ("loss", "regularization", "optimizer", "schedule")},
            "train": _object(options_for_dataclass(TrainOptions), "How to train (TrainOptions)."),
        },
        "$defs": defs,
    }


def _object(options: dict[str, Option], description: str = "", extra: dict | None = None) -> dict[str, Any]:
    props = {name: option_schema(opt) for name, opt in options.items()}
    props.update(extra or {})
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [n for n, o in options.items() if o.required]
    if required:
        out["required"] = required
    if description:
        out["description"] = description
    return out


MEMBER_KEYS = {
    "type": {"type": "string"},
    "in": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
    "name": {"type": "string"},
}


def _layer_long(name: str, cls: type) -> dict[str, Any]:
    doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else name
    extra = {**MEMBER_KEYS, "type": {"const": name}}
    schema = _object(options_for(cls), doc, extra)
    schema["required"] = ["type"] + schema.get("required", [])
    return schema


def _layer_short(name: str, cls: type) -> dict[str, Any]:
    options = options_for(cls)
    arms: list[dict] = [{"type": "null"}, _object(options)]
    shorthand = getattr(cls, "shorthand", None)
    if shorthand and shorthand in options:
        arms.append(option_schema(options[shorthand]))
    doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else name
    return {
        "type": "object",
        "description": doc,
        "properties": {name: {"anyOf": arms}, "in": MEMBER_KEYS["in"], "name": MEMBER_KEYS["name"]},
        "required": [name],
        "additionalProperties": False,
    }


def _typed_section(name: str) -> dict[str, Any]:
    kind = SECTION_KINDS[name]
    registry = kind.registry()
    default = DEFAULT_SECTIONS[name]
    if registry is None:
        return {"type": ["object", "string"]}
    arms = []
    for entry_name, entry in registry.items():
        options = options_for(entry, kind.skip)
        if name in EXTRA_OPTIONS:
            options.update(options_for_dataclass(EXTRA_OPTIONS[name]))
        if entry_name == default["type"]:
            for key, value in default.items():
                if key in options and key != "type":
                    options[key] = Option(key, options[key].annotation, value)
        arm = _object(options, _first_line(entry), {"type": {"const": entry_name}})
        if entry_name != default["type"]:
            arm["required"] = ["type"] + arm.get("required", [])
        arms.append(arm)
    return {
        "description": f"{name}: a name or {{type: NAME, ...options}}; default {json.dumps(default)}",
        "anyOf": [{"enum": registry.names()}, {"oneOf": arms}],
    }


def _first_line(entry: Any) -> str:
    doc = (entry.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def option_schema(option: Option) -> dict[str, Any]:
    schema = annotation_schema(option.annotation, option.name)
    default = option.default
    if default is not REQUIRED:
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            default = dataclasses.asdict(default)
        if isinstance(default, tuple):
            default = list(default)
        try:
            json.dumps(default)
            schema["default"] = default
        except (TypeError, ValueError):
            pass
    return schema


def annotation_schema(annotation: Any, name: str = "") -> dict[str, Any]:
    """A Python annotation as JSON Schema (the same types validation accepts)."""
    annotation, metadata = _unwrap(annotation)
    simple = {int: "integer", float: "number", bool: "boolean", str: "string", type(None): "null",
              dict: "object", list: "array", tuple: "array"}
    if annotation in simple or annotation is None:
        schema: dict[str, Any] = {"type": simple.get(annotation, "null")}
        if annotation in (int, float):
            _add_bounds(schema, name, metadata)
        return schema
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        return {"anyOf": [annotation_schema(a, name) for a in args]}
    if origin in SEQUENCES:
        items = [a for a in args if a is not Ellipsis]
        if origin is tuple and items and Ellipsis not in args:
            return {"type": "array", "prefixItems": [annotation_schema(a) for a in items],
                    "minItems": len(items), "maxItems": len(items)}
        return {"type": "array", **({"items": annotation_schema(items[0])} if items else {})}
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _object(options_for_dataclass(annotation), _first_line(annotation))
    return {}


def _add_bounds(schema: dict, name: str, metadata: tuple) -> None:
    for bounds in bounds_of(name, metadata):
        if bounds.lo is not None:
            schema["minimum" if bounds.lo_inclusive else "exclusiveMinimum"] = bounds.lo
        if bounds.hi is not None:
            schema["maximum" if bounds.hi_inclusive else "exclusiveMaximum"] = bounds.hi
