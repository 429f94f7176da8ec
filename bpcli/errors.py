"""User-facing errors. The library raises these; only the CLI edge turns them into messages.

Every BpcliError carries the exit code the CLI should use (2 = bad usage, spec, data or
expression; 1 = a check failed or training diverged) and renders itself as plain text.
"""

from __future__ import annotations

from typing import Iterable, Sequence


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when none is close."""
    import difflib  # here, not at the top: every command's start-up would pay for it

    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class BpcliError(Exception):
    """Base of every error a user can cause. `exit_code` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def render(self) -> str:
        """The text shown to the user (no traceback)."""
        return self.message if self.message.startswith("error:") else f"error: {self.message}"


class UsageError(BpcliError):
    """Bad command-line usage: a token without '=', an unknown option value ..."""


class ExprError(BpcliError):
    """A problem in a scalar expression, pointing at a 0-based column of `expression`."""

    def __init__(self, message: str, expression: str = "", column: int | None = None):
        super().__init__(message)
        self.expression = expression
        self.column = column

    def render(self) -> str:
        if self.column is None or not self.expression or len(self.expression) > 200:
            where = f" (at column {self.column + 1})" if self.column is not None else ""
            return f"error: {self.message}{where}"
        return f"error: {self.message}\n  {self.expression}\n  {' ' * self.column}^"


class SpecProblem:
    """One problem in a spec: where it is and what is wrong (line and col are 1-based)."""

    __slots__ = ("message", "path", "file", "line", "col")

    def __init__(
        self, message: str, path: str = "", file: str = "", line: int | None = None, col: int | None = None
    ):
        self.message, self.path, self.file, self.line, self.col = message, path, file, line, col

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpecProblem) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__
        )

    def __repr__(self) -> str:
        return f"SpecProblem({self.render()!r})"

    def render(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class SpecError(BpcliError):
    """One or more problems in a YAML spec, each with file:line:col."""

    def __init__(self, problems: Sequence[SpecProblem] | SpecProblem | str):
        if isinstance(problems, str):
            problems = [SpecProblem(problems)]
        elif isinstance(problems, SpecProblem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))

    def render(self) -> str:
        """One `error: file:line:col: path: message` line per problem, like a compiler."""
        return "\n".join(f"error: {p.render()}" for p in self.problems)


class OptionError(ValueError):
    """A bad option value, raised by a layer's __init__: `option` names it, so a spec puts
    `problem` at that option's line."""

    def __init__(self, option: str, problem: str):
        super().__init__(problem)
        self.option, self.problem = option, problem


class DataError(BpcliError):
    """Unreadable or invalid data: a missing file, a bad CSV cell, NaN in inputs ...
    `option`: the `data:` option it is about, when the raiser knows (for the spec's file:line)."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


class DataMissing(DataError):
    """A dataset that is not on this machine; the message says how to get it."""


class ShapeError(BpcliError):
    """Two layers whose shapes do not fit; the message names both layers and both shapes.
    `node`: the name of the graph node that failed, when the graph knows it."""

    def __init__(self, message: str, node: str | None = None):
        super().__init__(message)
        self.node = node


class CheckFailed(BpcliError):
    """A gradient check failed (exit 1)."""

    exit_code = 1


class RunWriteFailed(BpcliError):
    """A run-time fault of a run (disk full, file system turned read-only, out of memory
    mid-run): exit 1, the last complete checkpoint is kept."""

    exit_code = 1


class TrainingDiverged(BpcliError):
    """The loss became nan or inf (exit 1)."""

    exit_code = 1

