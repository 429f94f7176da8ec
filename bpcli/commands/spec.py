"""Placeholder until this command lands."""

import typer


def show_command() -> None:
    """Not built yet."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(2)


def schema_command() -> None:
    """Not built yet."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(2)
