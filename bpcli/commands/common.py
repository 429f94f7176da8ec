"""What every command shares: error handling at the edge, output formats, NAME=VALUE tokens."""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable, Iterable, TypeVar

import typer

from bpcli.assignments import split_assignments  # noqa: F401  (re-exported: every command's NAME=VALUE tokens)
from bpcli.errors import BpcliError, UsageError

F = TypeVar("F", bound=Callable)

FORMATS_HELP = "Output format: rich (tables; plain text when stdout is not a terminal) or json."


def handles_errors(command: F) -> F:
    """Turn library errors into a short message on stderr and their exit code; no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BpcliError as err:
            print(readable(err.render()), file=sys.stderr)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted; nothing was saved", file=sys.stderr)
            raise typer.Exit(130) from None
        except RecursionError:
            print("error: input is nested too deeply", file=sys.stderr)
            raise typer.Exit(2) from None
        except MemoryError:
            print("error: out of memory (the input or model is too large)", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


MAX_LINE = 1000  # characters of one message line; longer ones echo user text and are cut in the middle


def readable(message: str) -> str:
    """A message as it can be printed: user text echoed in it cut to a readable length, and
    characters no terminal can encode (lone surrogates from YAML escapes) escaped."""
    lines = []
    for line in message.splitlines() or [""]:
        if len(line) > MAX_LINE:
            line = f"{line[:600]} ...({len(line) - 900:,} more characters)... {line[-300:]}"
        lines.append(line.encode("utf-8", "backslashreplace").decode("utf-8"))
    return "\n".join(lines)


def print_notes(notes: Iterable[str]) -> None:
    """Warnings that do not stop the command (an override that dropped options ...): on stderr,
    with --quiet too, so stdout keeps only what was asked for (pure JSON with --format json)."""
    for note in notes:
        print(readable(note), file=sys.stderr)


def check_format(fmt: str, allowed: Iterable[str]) -> str:
    """Validate a --format value."""
    allowed = tuple(allowed)
    if fmt not in allowed:
        raise UsageError(f"unknown --format '{fmt}'; choose from: {', '.join(allowed)}")
    return fmt


def stdout_is_terminal() -> bool:
    """True when stdout is an interactive terminal (rich live output allowed)."""
    return sys.stdout.isatty()


def make_console(stderr: bool = False, record: bool = False):
    """A Rich console: colours and live redraw only on a terminal; plain text otherwise."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    columns = os.environ.get("COLUMNS", "")
    valid = columns.isdigit() and int(columns) > 0  # a bad COLUMNS is ignored, as Rich does
    width = None
    if not stream.isatty():
        width = int(columns) if valid else 100
    elif columns and not valid:
        import shutil

        width = shutil.get_terminal_size().columns if columns.isdigit() else None
    return Console(file=stream, record=record, width=width, soft_wrap=False, highlight=False)
