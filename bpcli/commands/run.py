"""Placeholder until this command lands."""

import typer


def train_command() -> None:
    """Not built yet."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(2)


def evaluate_command() -> None:
    """Not built yet."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(2)


def predict_command() -> None:
    """Not built yet."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(2)
