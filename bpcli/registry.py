"""Named registries: one per kind of thing a spec can name (layers, losses, optimizers ...).

An entry is a class or factory whose keyword arguments, with their type annotations and
defaults, *are* its options: the spec validator, `bpcli show`, `bpcli schema` and the tests
all read them from the signature, so a new entry needs nothing but its registration.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Iterator, Optional, TypeVar

from bpcli.errors import BpcliError, did_you_mean

T = TypeVar("T")


class UnknownName(BpcliError):
    """A name that is not in a registry; the message lists the choices and the closest one."""

    def __init__(self, kind: str, name: str, choices: list[str]):
        self.kind, self.name, self.choices = kind, name, choices
        super().__init__(
            f"unknown {kind} '{name}'{did_you_mean(name, choices)}; choose from: {', '.join(choices)}"
        )


class Registry:
    """name -> entry, in registration order."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Any] = {}

    def register(self, name: str, *, examples: Optional[tuple] = None) -> Callable[[T], T]:
        """Decorator: `@LAYERS.register("dense")`. `examples` sets a function entry's `examples`
        (the cases the registry-wide tests run it on; a class writes them in its body)."""

        def add(entry: T) -> T:
            if name in self._entries and self._entries[name] is not entry:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = entry
            if examples is not None:
                entry.examples = examples  # type: ignore[attr-defined]
            try:
                entry.registered_name = name  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
            return entry

        return add

    def get(self, name: str) -> Any:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownName(self.kind, str(name), self.names()) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self):
        return self._entries.items()

    def names(self) -> list[str]:
        return list(self._entries)


def options_of(entry: Any, skip: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
    """The keyword options of an entry: its __init__ (class) or call (function) parameters."""
    target = entry.__init__ if inspect.isclass(entry) else entry
    params = inspect.signature(target).parameters
    return {
        name: p
        for name, p in params.items()
        if name not in ("self",) + skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
