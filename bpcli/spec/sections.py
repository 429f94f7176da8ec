"""The `{type: NAME, **options}` sections (data, loss, regularization, optimizer, schedule),
`seed` and `train`, validated against the registries and TrainOptions."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from bpcli.data.options import DataOptions
from bpcli.registry import UnknownName
from bpcli.spec.defaults import DEFAULT_SECTIONS
from bpcli.spec.options import check_options, check_value, describe, options_for, options_for_dataclass
from bpcli.spec.problems import Problems
from bpcli.spec.registries import SECTION_KINDS
from bpcli.training.options import TrainOptions

# sections whose own keys sit beside the entry's options
EXTRA_OPTIONS: dict[str, type] = {"data": DataOptions}


def normalize_section(value: Any, name: str, problems: Problems) -> Any:
    """`optimizer: adam` -> {type: adam}; other values unchanged."""
    if isinstance(value, str):
        problems.mark((name, "type"), problems.where((name,)))
        return {"type": value}
    return value


def with_defaults(name: str, given: Any) -> Any:
    """The section over its default: merged when the type is the default's (or omitted)."""
    default = DEFAULT_SECTIONS[name]
    if given is None:
        return dict(default)
    if not isinstance(given, dict):
        return given
    if given.get("type", default["type"]) == default["type"]:
        return {**default, **given}
    return dict(given)


def options_taken(name: str, type_name: Any) -> Optional[set[str]]:
    """The option names a section of that type accepts; None when that is not known
    (not a typed section, an unknown type, or a registry that has not landed)."""
    kind = SECTION_KINDS.get(name)
    registry = kind.registry() if kind else None
    if registry is None or not isinstance(type_name, str):
        return None
    try:
        entry = registry.get(type_name)
    except UnknownName:
        return None
    names = set(options_for(entry, kind.skip))
    if name in EXTRA_OPTIONS:
        names.update(options_for_dataclass(EXTRA_OPTIONS[name]))
    return names


def check_section(name: str, given: Any, problems: Problems) -> dict[str, Any]:
    """Validate one typed section -> {"type": NAME, **every option}."""
    path = (name,)
    section = with_defaults(name, given)
    if not isinstance(section, dict):
        problems.add(path, f"expected a mapping with `type:` (or just a name), got {describe(section)}")
        return {}
    type_name = section.get("type")
    if not isinstance(type_name, str):
        problems.add(path + ("type",), f"`type:` must be a name, got {describe(type_name)}")
        return {}
    kind = SECTION_KINDS[name]
    registry = kind.registry()
    given_options = {k: v for k, v in section.items() if k != "type"}
    if registry is None:  # that registry has not landed yet: nothing more to check
        return {"type": type_name, **given_options}
    try:
        entry = registry.get(type_name)
    except UnknownName as err:
        problems.add(path + ("type",), str(err))
        return {}
    options = options_for(entry, kind.skip)
    if name in EXTRA_OPTIONS:
        options.update(options_for_dataclass(EXTRA_OPTIONS[name]))
    resolved = check_options(options, given_options, path, problems, f"{name} '{type_name}'")
    return {"type": type_name, **resolved}


def check_seed(value: Any, problems: Problems) -> int:
    from bpcli.spec.defaults import DEFAULT_SEED

    if value is None:
        return DEFAULT_SEED
    seed = check_value(value, int, ("seed",), problems, "seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed < 0:
        problems.add(("seed",), f"must be zero or more, got {seed}")
    return seed


def check_train(value: Any, problems: Problems) -> TrainOptions:
    resolved = check_options(options_for_dataclass(TrainOptions), value, ("train",), problems, "train")
    names = {f.name for f in dataclasses.fields(TrainOptions)}
    if set(resolved) != names:
        return TrainOptions()
    try:
        return TrainOptions(**resolved)
    except (TypeError, ValueError) as err:
        problems.add(("train",), str(err))
        return TrainOptions()
