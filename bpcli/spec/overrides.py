"""`NAME=VALUE` dotted overrides (`optimizer.lr=0.1`, `model.0.units=64`) applied to the raw
document before validation. Values are typed like YAML scalars (`5` int, `1e-3` float, `true`,
`null`, `[1, 2]`); a key that does not exist is reported by validation, at `<override ...>`."""

from __future__ import annotations

import json
from typing import Any, Iterable

from bpcli.assignments import SPEC_VALUES, split_assignment
from bpcli.errors import SpecError, SpecProblem
from bpcli.spec.defaults import DEFAULT_SECTIONS
from bpcli.spec.problems import Problems
from bpcli.spec.sections import options_taken
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
    """Set each override in `data` (creating mappings on the way); positions become the override's.
    A section whose `type` an override changed keeps only the file's options the new type takes
    (a note in `problems.notes` names the ones dropped)."""
    file_types = {name: _type_of(data.get(name), name) for name in DEFAULT_SECTIONS}
    retyped = []
    for token in overrides:
        keys, value, label = parse_override(token)
        _apply_one(data, keys, value, Where(label), problems)
        if len(keys) == 2 and keys[0] in DEFAULT_SECTIONS and keys[1] == "type" and keys[0] not in retyped:
            retyped.append(keys[0])
    for name in retyped:
        section = data.get(name)
        if isinstance(section, dict) and _type_of(section, name) != file_types[name]:
            _drop_options_of_old_type(section, name, problems)
    return data


def _type_of(section: Any, name: str) -> Any:
    """The type a raw section names (its default's when it names none)."""
    if isinstance(section, dict):
        return section.get("type", DEFAULT_SECTIONS[name]["type"])
    return section if section is not None else DEFAULT_SECTIONS[name]["type"]


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


def _drop_options_of_old_type(section: dict, name: str, problems: Problems) -> None:
    """`optimizer.type=adam` over a file's `{type: momentum, lr: 0.5, momentum: 0.9}`: the
    file's options that adam does not take are dropped, with a note saying which; options
    set by an override stay (and are reported if the new type does not take them)."""
    new_type = section.get("type")
    taken = options_taken(name, new_type)
    if taken is None:  # an unknown type: validation names it
        return
    from_file = [k for k in section if k != "type" and not _set_by_override(problems, (name, k))]
    dropped = [k for k in from_file if k not in taken]
    if not dropped:
        return
    where = problems.where((name, dropped[0]))
    place = f"{where.file}:{where.line}" if where.line else where.file
    options = ", ".join(f"{k}={_scalar(section[k])}" for k in dropped)
    kept = [f"{k}={_scalar(section[k])}" for k in from_file if k in taken]
    no_such = "no such option" if len(dropped) == 1 else "no such options"
    note = f"note: {name}.type={_scalar(new_type)} drops {options} from {place} ({new_type} has {no_such})"
    if kept:
        note += f" and keeps {', '.join(kept)}"
    problems.notes.append(note)
    for k in dropped:
        del section[k]
        problems.positions.pop((name, k), None)


def _set_by_override(problems: Problems, path: tuple) -> bool:
    where = problems.positions.get(path)
    return where is not None and where.file.startswith("<override")


def _scalar(value: Any) -> str:
    """A value as YAML writes it in flow style: true, null, 0.9, [1, 2]."""
    if isinstance(value, str):
        return value
    return json.dumps(value)
