"""Options of a registry entry or a dataclass, read from its signature, and checked values.

An option's type comes from its annotation: int, float (ints accepted), bool (never an int),
str, None/Optional, Literal, Union, tuple/list (fixed or variadic), dict, and nested
dataclasses (like train.early_stopping). Anything unannotated accepts any YAML value.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

from bpcli.errors import did_you_mean
from bpcli.registry import options_of
from bpcli.spec.constraints import bounds_of
from bpcli.spec.problems import Problems

REQUIRED = inspect.Parameter.empty
SEQUENCES = (list, tuple, collections.abc.Sequence)


@dataclass
class Option:
    """One keyword option: its name, annotation (Any when none) and default (REQUIRED if none)."""

    name: str
    annotation: Any = Any
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _hints(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # unresolvable string annotations: fall back to the simple builtins
        raw = getattr(target, "__annotations__", {}) or {}
        names = {"int": int, "float": float, "bool": bool, "str": str}
        return {k: (names.get(v, Any) if isinstance(v, str) else v) for k, v in raw.items()}


def options_for(entry: Any, skip: tuple[str, ...] = ()) -> dict[str, Option]:
    """The options of a registry entry (class __init__ or function keyword arguments)."""
    if dataclasses.is_dataclass(entry) and isinstance(entry, type):
        return options_for_dataclass(entry)
    target = entry.__init__ if inspect.isclass(entry) else entry
    hints = _hints(target)
    return {
        name: Option(name, hints.get(name, Any) if p.annotation is not p.empty else Any, p.default)
        for name, p in options_of(entry, skip).items()
    }


def options_for_dataclass(cls: type) -> dict[str, Option]:
    """The fields of a dataclass as options."""
    hints = _hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = REQUIRED
        out[f.name] = Option(f.name, hints.get(f.name, Any), default)
    return out


def check_options(
    options: dict[str, Option],
    given: Any,
    path: tuple,
    problems: Problems,
    label: str,
) -> dict[str, Any]:
    """Check `given` (a mapping) against `options`; return every option resolved (defaults filled)."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        problems.add(path, f"expected a mapping of options for {label}, got {describe(given)}")
        return {}
    resolved: dict[str, Any] = {}
    for key in given:
        if key not in options:
            known = ", ".join(options) or "none"
            problems.add(
                path + (key,),
                f"unknown option '{key}' for {label}{did_you_mean(str(key), options)}; options: {known}",
                at_key=True,
            )
    for name, option in options.items():
        if name in given:
            before = len(problems.items)
            value = check_value(given[name], option.annotation, path + (name,), problems, name)
            if len(problems.items) == before:
                resolved[name] = value
        elif option.required:
            problems.add(path, f"missing required option '{name}' for {label}")
        else:
            resolved[name] = option.default
    return resolved


def describe(value: Any) -> str:
    """How a YAML value reads in a message: 'abc' (a string), true (a boolean) ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"'{value}' (a string)"
    if isinstance(value, int):
        return f"{value} (an integer)"
    if isinstance(value, float):
        return f"{value} (a number)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def type_name(annotation: Any) -> str:
    """An annotation in words: 'an integer', 'one of: a, b', 'a list of numbers' ..."""
    annotation, _ = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    simple = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
              type(None): "null", dict: "a mapping", list: "a list", tuple: "a list"}
    if annotation in simple:
        return simple[annotation]
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(annotation))
    if origin in SEQUENCES:
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if origin is tuple and args and Ellipsis not in typing.get_args(annotation):
            return f"a list of {len(args)} items"
        return "a list" + (f" of {type_name(args[0]).split(' ', 1)[-1]}s" if args else "")
    if dataclasses.is_dataclass(annotation):
        return "a mapping"
    return "a value"


def _unwrap(annotation: Any) -> tuple[Any, tuple]:
    """Annotated[T, *meta] -> (T, meta)."""
    if typing.get_origin(annotation) is typing.Annotated:
        args = typing.get_args(annotation)
        return args[0], tuple(args[1:])
    return annotation, ()


def check_value(value: Any, annotation: Any, path: tuple, problems: Problems, name: str = "") -> Any:
    """Check one value against an annotation; return it converted (int -> float, list -> tuple,
    mapping -> dataclass). Problems go to `problems`; the return value is then meaningless."""
    annotation, metadata = _unwrap(annotation)
    ok, converted, message = _convert(value, annotation, path, problems)
    if not ok:
        problems.add(path, message or f"expected {type_name(annotation)}, got {describe(value)}")
        return value
    if isinstance(converted, (int, float)) and not isinstance(converted, bool):
        for bounds in bounds_of(name, metadata):
            violation = bounds.violation(converted)
            if violation:
                problems.add(path, violation)
                break
    return converted


def _convert(value: Any, annotation: Any, path: tuple, problems: Problems) -> tuple[bool, Any, str]:
    """(accepted, converted value, message when not accepted)."""
    annotation, _ = _unwrap(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty or annotation is object:
        return True, value, ""
    if annotation is None or annotation is type(None):
        return value is None, value, ""
    if annotation is bool:
        return isinstance(value, bool), value, ""
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool), value, ""
    if annotation is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value, ""
    if annotation is str:
        return isinstance(value, str), value, ""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        if any(a == value and type(a) is type(value) for a in args):
            return True, value, ""
        choices = [str(a) for a in args]
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
        return False, value, f"expected one of: {', '.join(choices)}; got {describe(value)}{hint}"
    if origin in (Union, types.UnionType):
        container_arms = [a for a in args if _kind(a) == _kind(value) != "scalar"]
        if len(container_arms) == 1:  # a mapping or list: check it against its one arm, in detail
            return _convert(value, container_arms[0], path, problems)
        for arm in sorted(args, key=_arm_order):  # try exact arms first: bool before int before float
            scratch = Problems(problems.positions, problems.file)
            ok, converted, _ = _convert(value, arm, path, scratch)
            if ok and not scratch:
                return True, converted, ""
        return False, value, ""
    if origin in SEQUENCES or annotation in (list, tuple):
        return _convert_sequence(value, annotation, origin, args, path, problems)
    if origin is dict or annotation is dict:
        return isinstance(value, dict), value, ""
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        if not isinstance(value, dict):
            return False, value, ""
        resolved = check_options(options_for_dataclass(annotation), value, path, problems, path[-1] if path else "this section")
        try:
            return True, annotation(**resolved), ""
        except (TypeError, ValueError) as err:
            return False, value, str(err)
    if isinstance(annotation, type):
        return isinstance(value, annotation), value, ""
    return True, value, ""


def _kind(annotation_or_value: Any) -> str:
    """'mapping', 'list' or 'scalar' for an annotation or a YAML value."""
    x, _ = _unwrap(annotation_or_value)
    origin = typing.get_origin(x)
    if isinstance(x, dict) or x is dict or origin is dict or (dataclasses.is_dataclass(x) and isinstance(x, type)):
        return "mapping"
    if isinstance(x, list) or x in (list, tuple) or origin in SEQUENCES:
        return "list"
    return "scalar"


def _arm_order(arm: Any) -> int:
    base, _ = _unwrap(arm)
    order = {type(None): 0, bool: 1, int: 2, float: 3, str: 4}
    return order.get(base, 5)


def _convert_sequence(value, annotation, origin, args, path, problems) -> tuple[bool, Any, str]:
    if not isinstance(value, list):
        return False, value, ""
    want_tuple = origin is tuple or annotation is tuple
    if want_tuple and args and Ellipsis not in args:
        if len(value) != len(args):
            return False, value, f"expected a list of {len(args)} items, got {len(value)}"
        items = [check_value(v, a, path + (i,), problems) for i, (v, a) in enumerate(zip(value, args))]
    else:
        item_type = args[0] if args else Any
        items = [check_value(v, item_type, path + (i,), problems) for i, v in enumerate(value)]
    return True, tuple(items) if want_tuple else items, ""
