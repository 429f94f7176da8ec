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
MAX_NODES = 200_000  # values after expanding every alias: guards against alias bombs
SURROGATES = re.compile("[\ud800-\udfff]")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # all but tab, newline, CR


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


MAX_FLOW_DEPTH = 500  # [ and { nested deeper than this are refused before PyYAML (which recurses) sees them


def _check_flow_depth(text: str, file: str) -> None:
    """Refuse brackets nested deeper than MAX_FLOW_DEPTH, found in one pass over the text (an
    upper bound: brackets inside quotes count too, which only matters past 500 of them)."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return
    depth = 0
    for index, char in enumerate(text):
        if char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                line = text.count("\n", 0, index) + 1
                col = index - (text.rfind("\n", 0, index) + 1) + 1
                raise SpecError(SpecProblem(f"YAML is nested too deeply (more than {MAX_FLOW_DEPTH} levels of [ and {{)", "", file, line, col))
        elif char in "]}":
            depth = max(depth - 1, 0)


def _bad_character(text: str, index: int, file: str) -> SpecError:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    code = f"U+{ord(text[index]):04X}" if index < len(text) else "?"
    return SpecError(SpecProblem(f"invalid YAML: character {code} is not allowed (control or special character)", "", file, line, col))


_BAD_KEY = object()


def _key(loader: SpecLoader, node: yaml.ScalarNode) -> Any:
    """A mapping key's value, or _BAD_KEY when its tag cannot make one (`!!float epochs`,
    `!!python/object:...`: SafeLoader knows no Python tags)."""
    try:
        return loader.construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        return _BAD_KEY


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def parse_yaml(text: str, file: str = "<spec>") -> tuple[Any, dict[Path_, Where]]:
    """YAML text -> (plain data, {key path: Where}). Raises SpecError for syntax errors,
    duplicate keys and non-scalar keys (every duplicate is reported); and, before building
    anything, recursive aliases and documents that expand to more than MAX_NODES values."""
    bad = CONTROL_CHARS.search(text)
    if bad:
        raise _bad_character(text, bad.start(), file)
    _check_flow_depth(text, file)
    try:
        loader = SpecLoader(text)
    except yaml.reader.ReaderError as err:  # characters YAML does not allow (lone surrogates ...)
        raise _bad_character(text, err.position, file) from None
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
    _check_expansion(root, file)
    return _build(loader, root, file)


def _check_expansion(root: yaml.Node, file: str) -> None:
    """PyYAML composes an alias as the same node object, so the tree is a graph: refuse a node
    that contains itself, and count the values the tree has once every alias is expanded
    (each distinct node visited once, sizes summed bottom-up), before building any of it."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = _children(node)
        if children_done:
            on_path.discard(key)
            total = 1 + sum(size[id(c)] for c in children)
            size[key] = min(total, MAX_NODES + 1)
            continue
        if key in size:
            continue
        if key in on_path:
            mark = node.start_mark
            raise SpecError(_problem("invalid YAML: an alias refers to a value that contains it (recursive alias)", file, mark))
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise SpecError(_problem("invalid YAML: an alias refers to a value that contains it (recursive alias)", file, child.start_mark))
            if id(child) not in size:
                stack.append((child, False))
    if size[id(root)] > MAX_NODES:
        raise SpecError(SpecProblem(
            f"YAML document too large: more than {MAX_NODES:,} values once aliases are expanded", "", file))


def _children(node: yaml.Node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


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
        if visited > MAX_NODES:  # unreachable after _check_expansion; kept as the walk's own bound
            raise SpecError(SpecProblem("YAML document too large", "", file))
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
            else:
                if isinstance(container[slot], str) and SURROGATES.search(container[slot]):
                    problems.append(_problem("invalid YAML: an escape makes a lone surrogate (\\ud800-\\udfff), which is not text", file, mark))
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
                key = _key(loader, key_node)
                if key is _BAD_KEY:
                    problems.append(_problem(f"invalid YAML: a mapping key must be a plain name, not tagged {key_node.tag}", file, key_node.start_mark))
                    continue
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
                key = _key(loader, key_node)
                if key is _BAD_KEY:
                    continue
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
