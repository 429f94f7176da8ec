"""`NAME=VALUE` dotted overrides (`optimizer.lr=0.1`, `model.0.units=64`) applied to the raw
document before validation. Values are typed like YAML scalars (`5` int, `1e-3` float, `true`,
`null`, `[1, 2]`); a key that does not exist is reported by validation, at `<override ...>`."""

from __future__ import annotations

from typing import Any, Iterable

from bpcli.assignments import SPEC_VALUES, split_assignment
from bpcli.errors import SpecError, SpecProblem
from bpcli.spec.problems import Problems
from bpcli.spec.yaml_loader import Where


def parse_override(token: str) -> tuple[list[str], Any, str]:
    """'a.b=1' -> (['a', 'b'], 1, '<override a.b=1>'); a bad token is a SpecError."""
    label = f"<override {token}>"
    pair = split_assignment(token)
    if pair is None or any(not k for k in pair.keys):
        raise SpecError(SpecProblem("expected NAME=VALUE with a dotted NAME like optimizer.lr=0.1", "", label))
    try:
        value = SPEC_VALUES.parse(pair.name, pair.text, label)
    except SpecError as err:
        raise SpecError([SpecProblem(p.message, pair.name, label) for p in err.problems]) from None
    return pair.keys, value, label


def apply_overrides(data: dict, overrides: Iterable[str], problems: Problems) -> dict:
    """Set each override in `data` (creating mappings on the way); positions become the override's."""
    for token in overrides:
        keys, value, label = parse_override(token)
        _apply_one(data, keys, value, Where(label), problems)
    return data


def _apply_one(data: dict, keys: list[str], value: Any, where: Where, problems: Problems) -> None:
    node: Any = data
    path: tuple = ()
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        here = ".".join(map(str, path))
        if isinstance(node, list):
            if not key.lstrip("-").isdigit():
                problems.add_at(where, path, f"'{here}' is a list: use an index, not '{key}'")
                return
            index = int(key)
            if not -len(node) <= index < len(node):
                problems.add_at(where, path, f"index {index} is out of range ('{here}' has {len(node)} items)")
                return
            step: Any = index % len(node)
        elif isinstance(node, dict):
            step = key
        else:
            problems.add_at(where, path, f"'{here}' is {node!r}, not a mapping: cannot set '{'.'.join(keys)}'")
            return
        path = path + (step,)
        if last:
            node[step] = value
            for old in [p for p in problems.positions if p[: len(path)] == path]:
                del problems.positions[old]
            problems.mark(path, where)
            return
        if isinstance(node, dict) and node.get(step) is None:
            node[step] = {}
            problems.mark(path, where)
        node = node[step]
