"""Collect every problem of a spec, each placed at the file position of its key or value."""

from __future__ import annotations

from typing import Any

from bpcli.errors import SpecError, SpecProblem
from bpcli.spec.yaml_loader import Where


def dotted(path: tuple) -> str:
    """("model", 0, "units") -> "model.0.units"."""
    return ".".join(str(p) for p in path)


class Problems:
    """A list of SpecProblems that knows where every key path of the document is."""

    def __init__(self, positions: dict[tuple, Where], file: str):
        self.positions = positions
        self.file = file
        self.items: list[SpecProblem] = []
        self.notes: list[str] = []  # warnings for the user that do not stop the spec (e.g. dropped options)

    def where(self, path: tuple) -> Where:
        """The position of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, Where(self.file, 1, 1))

    def add(self, path: tuple, message: str, *, at_key: bool = False) -> None:
        """Record a problem at the value of `path` (or at its key when `at_key`)."""
        where = self.where(path)
        line, col = where.line, where.col
        if at_key and where.key_line is not None:
            line, col = where.key_line, where.key_col
        self.items.append(SpecProblem(message, dotted(path), where.file, line, col))

    def add_at(self, where: Where, path: tuple, message: str) -> None:
        """Record a problem at an explicit position (overrides have no file position)."""
        self.items.append(SpecProblem(message, dotted(path), where.file, where.line, where.col))

    def mark(self, path: tuple, where: Where) -> None:
        """Give `path` (and, by the ancestor rule, everything below it) a position."""
        self.positions[tuple(path)] = where

    def copy_marks(self, source: tuple, target: tuple) -> None:
        """Positions strictly under `source` are now also those under `target` (values that moved)."""
        source, target = tuple(source), tuple(target)
        n = len(source)
        for path, where in list(self.positions.items()):
            if len(path) > n and path[:n] == source:
                self.positions[target + path[n:]] = where

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            unique = {p.render(): p for p in self.items}
            raise SpecError(sorted(unique.values(), key=_order))


def _order(p: SpecProblem) -> Any:
    return (p.file.startswith("<"), p.file, p.line or 0, p.col or 0)

