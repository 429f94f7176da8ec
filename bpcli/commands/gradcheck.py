"""Placeholder until this command lands."""

import typer


def gradcheck_command() -> None:
    """Not built yet."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(2)
