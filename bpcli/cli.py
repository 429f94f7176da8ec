"""The `bpcli` command line: a thin Typer layer over the library. No maths here."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from bpcli import __version__
from bpcli.commands.gradcheck import gradcheck_command
from bpcli.commands.options_errors import SpecCommand
from bpcli.commands.run import evaluate_command, predict_command, train_command
from bpcli.commands.spec import schema_command, show_command
from bpcli.commands.sweep import sweep_command
from bpcli.commands.trace import trace_command
from bpcli.commands.weights import export_command, import_command

app = typer.Typer(
    name="bpcli",
    help="See and check backpropagation: trace expressions, gradient-check layers and models, "
    "train small NumPy networks from YAML specs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"bpcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Optional[bool] = typer.Option(
        None, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """bpcli: see and check backpropagation."""


app.command("trace", context_settings={"ignore_unknown_options": True})(trace_command)  # "-x**2" is an expression
app.command("gradcheck", cls=SpecCommand)(gradcheck_command)
app.command("train", cls=SpecCommand)(train_command)
app.command("sweep", cls=SpecCommand)(sweep_command)
app.command("evaluate")(evaluate_command)
app.command("predict")(predict_command)
app.command("show", cls=SpecCommand)(show_command)
app.command("schema")(schema_command)
app.command("export")(export_command)
app.command("import")(import_command)


def main() -> None:
    """Console-script entry point: the last guard so a user never sees a traceback."""
    from bpcli.interrupts import caused_by_interrupt

    try:
        app()
    except KeyboardInterrupt:
        print("interrupted; nothing was saved", file=sys.stderr)
        sys.exit(130)
    except SystemExit as done:
        if done.code == 130 and caused_by_interrupt(done):  # Typer's silent Exit(130) for a Ctrl-C while parsing
            print("interrupted; nothing was saved", file=sys.stderr)
        raise
    except Exception as err:  # a bug in bpcli, not the user's fault
        if caused_by_interrupt(err):  # a Ctrl-C wrapped in another error (an import's class creation ...)
            print("interrupted; nothing was saved", file=sys.stderr)
            sys.exit(130)
        if os.environ.get("BPCLI_DEBUG"):
            raise
        print(
            f"internal error: {type(err).__name__}: {err}\n"
            "This is a bug in bpcli; rerun with BPCLI_DEBUG=1 for the traceback and report it.",
            file=sys.stderr,
        )
        sys.exit(1)
