"""Read YAML safely into plain Python values plus the file position of every key and value.

The loader is a `yaml.SafeLoader` subclass (user text is data: no Python tags), with two
fixes over PyYAML's defaults: `1e-3` is a float (YAML 1.2 style, PyYAML reads it as a
string), and a key repeated in one mapping is an error instead of silently winning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from bpcli.errors import SpecError, SpecProblem

Path_ = tuple  # a key path into the document: ("model", 0, "units")

PLAIN_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")  # no !!python/..., !!set ...
MAX_NODES = 200_000  # guards against alias bombs and recursive aliases


@dataclass(frozen=True)
class Where:
    """Where a value came from: a file position (1-based) or an override like `<override a=1>`."""

    file: str
    line: int | None = None
    col: int | None = None
    key_line: int | None = None  # position of the mapping key, when the value has one
    key_col: int | None = None


class SpecLoader(yaml.SafeLoader):
    """SafeLoader that reads 1e-3 / 1E+5 / .5e2 as floats."""


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _problem(message: str, file: str, mark: Any) -> SpecProblem:
    line = mark.line + 1 if mark is not None else None
    col = mark.column + 1 if mark is not None else None
    return SpecProblem(message, "", file, line, col)


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def parse_yaml(text: str, file: str = "<spec>") -> tuple[Any, dict[Path_, Where]]:
    """YAML text -> (plain data, {key path: Where}). Raises SpecError for syntax errors,
    duplicate keys and non-scalar keys (every duplicate is reported)."""
    loader = SpecLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        message = f"invalid YAML: {err.problem or err.context}"
        raise SpecError(_problem(message, file, mark)) from None
    except yaml.YAMLError as err:
        raise SpecError(SpecProblem(f"invalid YAML: {err}", "", file)) from None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise SpecError(SpecProblem("YAML is nested too deeply", "", file)) from None
    finally:
        loader.dispose()
    if root is None:
        return None, {(): Where(file, 1, 1)}
    return _build(loader, root, file)


def _build(loader: SpecLoader, root: yaml.Node, file: str) -> tuple[Any, dict[Path_, Where]]:
    """Walk the node tree iteratively, constructing values and recording positions."""
    problems: list[SpecProblem] = []
    positions: dict[Path_, Where] = {}
    holder: dict = {}
    # stack of (node, path, container, slot, key mark)
    stack: list[tuple[yaml.Node, Path_, Any, Any, Any]] = [(root, (), holder, "root", None)]
    visited = 0
    while stack:
        node, path, container, slot, key_mark = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise SpecError(SpecProblem("YAML document is too large (or has recursive aliases)", "", file))
        mark = node.start_mark
        positions[path] = Where(
            file,
            mark.line + 1,
            mark.column + 1,
            key_mark.line + 1 if key_mark is not None else None,
            key_mark.column + 1 if key_mark is not None else None,
        )
        if not isinstance(node, yaml.ScalarNode) and node.tag not in PLAIN_TAGS:
            problems.append(_problem(f"invalid YAML: unsupported tag {node.tag}", file, mark))
            container[slot] = None
            continue
        if isinstance(node, yaml.ScalarNode):
            try:
                container[slot] = loader.construct_object(node, deep=True)
            except yaml.constructor.ConstructorError as err:
                problems.append(_problem(f"invalid YAML: {err.problem}", file, err.problem_mark))
                container[slot] = None
        elif isinstance(node, yaml.SequenceNode):
            items: list = [None] * len(node.value)
            container[slot] = items
            for i in reversed(range(len(node.value))):
                stack.append((node.value[i], path + (i,), items, i, None))
        elif isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    problems.append(_problem("a mapping key must be a plain name", file, key_node.start_mark))
                    continue
                key = loader.construct_object(key_node)
                if key in seen:
                    first = seen[key].start_mark.line + 1
                    problems.append(
                        SpecProblem(
                            f"duplicate key '{key}' (first defined on line {first})",
                            _dotted(path + (key,)),
                            file,
                            key_node.start_mark.line + 1,
                            key_node.start_mark.column + 1,
                        )
                    )
                else:
                    seen[key] = key_node
            try:
                loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
            except yaml.constructor.ConstructorError as err:
                problems.append(_problem(f"invalid YAML: {err.problem}", file, err.problem_mark))
                container[slot] = {}
                continue
            mapping: dict = {}
            container[slot] = mapping
            pending = []
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = loader.construct_object(key_node)
                try:
                    hash(key)
                except TypeError:
                    continue
                mapping[key] = None
                pending.append((value_node, path + (key,), mapping, key, key_node.start_mark))
            stack.extend(reversed(pending))
        else:  # pragma: no cover - PyYAML has only three node kinds
            container[slot] = None
    if problems:
        raise SpecError(problems)
    return holder["root"], positions
