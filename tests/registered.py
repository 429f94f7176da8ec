"""Test cases from the registries themselves: every registered entry's `examples`, at collection
time, so registering an entry (with its examples) enrolls it in the registry-wide tests."""

from __future__ import annotations

import pytest

from bpcli.nn.init import INITIALIZERS
from bpcli.registry import Registry, options_of
from bpcli.spec.registries import SECTION_KINDS

# every registry a spec section names its entries from (datasets have no examples: their tests
# are by file format), and the initializers a layer's `init:` names
FAMILIES = {**{kind: section.registry() for kind, section in SECTION_KINDS.items() if kind != "data"},
            "initializer": INITIALIZERS}


def own_examples(entry) -> tuple:
    """The examples an entry declares itself: a class in its own body (not inherited), a function
    through `register(..., examples=...)`."""
    if isinstance(entry, type):
        return tuple(vars(entry).get("examples", ()))
    return tuple(getattr(entry, "examples", ()))


def enrolled(registry: Registry) -> list:
    """pytest params (name, entry, example) for every example of every entry, ids 'name[i]'."""
    return [pytest.param(name, entry, example, id=f"{name}[{i}]")
            for name, entry in registry.items() for i, example in enumerate(own_examples(entry))]


def with_defaults(entry, options: dict, skip: tuple = ()) -> dict:
    """An example's options with the entry's defaults filled in (the reference formulas need all)."""
    return {**{k: p.default for k, p in options_of(entry, skip).items()}, **options}
