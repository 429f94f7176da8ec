"""Unknown options, said the same way on every command: Click's "No such option" with the
closest real option, and for a spec setting typed as a flag (`--epochs 5`) the override to use."""

from __future__ import annotations

import difflib

from typer._click.exceptions import NoSuchOption  # Typer bundles its own Click
from typer._click.globals import get_current_context
from typer.core import TyperCommand

# flags people type for spec settings (after '-' -> '_'), and the override each one means
_SETTING_ALIASES = {"lr": "optimizer.lr", "learning_rate": "optimizer.lr",
                    "momentum": "optimizer.momentum", "optimizer": "optimizer",
                    "seed": "seed", "schedule": "schedule", "loss": "loss",
                    "reg": "regularization.strength", "regularization": "regularization"}


def _override_for(option: str) -> str:
    """'--epochs' -> 'train.epochs' (a spec setting a flag cannot set), else ''."""
    import dataclasses

    from bpcli.training.options import TrainOptions

    key = option.lstrip("-").replace("-", "_")
    if key in {f.name for f in dataclasses.fields(TrainOptions)}:
        return f"train.{key}"
    return _SETTING_ALIASES.get(key, "")


def unknown_option_error(ctx, option: str, value: str = "", spec_overrides: bool = False):
    """Click's NoSuchOption for `option`, naming the closest options of this command, or for a
    spec setting the `key=VALUE` override that sets it."""
    override = _override_for(option) if spec_overrides else ""
    if override:
        example = f"{override}={value or 'VALUE'}"
        return NoSuchOption(
            option,
            message=f"No such option: {option}; spec settings are overrides: write {example}",
            ctx=ctx,
        )
    options = [o for p in ctx.command.params for o in p.opts if o.startswith("-")]
    close = difflib.get_close_matches(option, options, n=3, cutoff=0.6)
    return NoSuchOption(option, possibilities=close or None, ctx=ctx)


def reject_unknown_options(tokens) -> None:
    """An option-like token that reached the positional NAME=VALUE arguments (a command that
    lets `-x**2` through as an expression) is an unknown option, said as Click says it."""
    for token in tokens:
        if token.startswith("-") and "=" not in token and token.lstrip("-")[:1].isalpha():
            raise unknown_option_error(get_current_context(), token)


class SpecCommand(TyperCommand):
    """A command that takes a spec and `key=VALUE` overrides: `--epochs 5` is pointed to
    `train.epochs=5`."""

    def parse_args(self, ctx, args):
        given = list(args)  # the parser consumes `args`
        try:
            return super().parse_args(ctx, args)
        except NoSuchOption as err:
            option, value = err.option_name, ""
            for index, token in enumerate(given):
                if token == option and index + 1 < len(given):
                    following = given[index + 1]
                    value = "" if following.startswith("-") else following
                    break
                if token.startswith(option + "="):
                    value = token[len(option) + 1 :]
                    break
            raise unknown_option_error(ctx, option, value, spec_overrides=True) from None
