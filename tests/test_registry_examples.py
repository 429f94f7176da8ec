"""The guard of registration-enrolled tests: every loss, regularizer, schedule, initializer and
optimizer declares its own `examples`, so the registry-wide tests run on it."""

from __future__ import annotations

from registered import FAMILIES, own_examples

from bpcli.registry import Registry


def test_the_families_are_every_spec_section_registry_but_datasets_and_the_initializers():
    assert sorted(FAMILIES) == ["initializer", "loss", "optimizer", "regularization", "schedule"]
    assert all(registry is not None for registry in FAMILIES.values())


def test_every_registered_entry_declares_its_own_examples():
    missing = [f"{kind} '{name}'" for kind, registry in FAMILIES.items()
               for name, entry in registry.items() if not own_examples(entry)]
    assert not missing, f"register these with examples: {', '.join(missing)}"
    assert all(len(registry.names()) >= 3 for registry in FAMILIES.values())


def test_the_guard_sees_an_entry_without_examples_even_when_its_base_class_has_some():
    registry = Registry("thing")

    @registry.register("base")
    class Base:
        examples = ({"lr": 1.0},)

    @registry.register("child")
    class Child(Base):
        pass

    @registry.register("fn", examples=((3,),))
    def fn(x):
        return x

    @registry.register("bare")
    def bare(x):
        return x

    found = {name: own_examples(entry) for name, entry in registry.items()}
    assert found == {"base": ({"lr": 1.0},), "child": (), "fn": ((3,),), "bare": ()}
