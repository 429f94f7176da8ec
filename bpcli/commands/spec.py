"""`bpcli show CONFIG [NAME=VALUE ...]` and `bpcli schema`: a spec resolved, and the spec format."""

import sys
from pathlib import Path
from typing import List, Optional

import typer

from bpcli.commands.common import check_format, handles_errors, make_console

SHOW_FORMATS = ("rich", "json")


@handles_errors
def show_command(
    config: str = typer.Argument("spiral", help="A spec file or a built-in name (spiral, xor, cnn ...)."),
    assignments: Optional[List[str]] = typer.Argument(
        None, metavar="[NAME=VALUE]...", help="Dotted overrides: optimizer.lr=0.1 model.0.units=64."
    ),
    fmt: Optional[str] = typer.Option(
        None, "--format", "-f", help="rich (plain text when piped) or json. Default: rich."
    ),
) -> None:
    """Show a spec resolved (every default filled in) and its model: layers, shapes, sizes.

    Validates everything first: each problem is listed as file:line:col: key: message
    (exit 2). The input shape comes from the data section.

    \b
    Examples:
      bpcli show                          (the built-in spiral)
      bpcli show spiral optimizer.lr=0.5 model.0.units=64
      bpcli show configs/residual.yaml
      bpcli show my-net.yaml --format json
    """
    fmt = check_format(fmt or "rich", SHOW_FORMATS)
    tokens = list(assignments or [])
    if "=" in config and not Path(config).exists():  # `bpcli show a=1`: overrides of the default
        tokens.insert(0, config)
        config = "spiral"

    from bpcli.spec import load_spec
    from bpcli.spec.summary import summarize

    from bpcli.commands.common import print_notes

    spec = load_spec(config, tokens)
    print_notes(spec.notes)
    summary = summarize(spec)
    if fmt == "json":
        from bpcli.render.spec import render_show_json

        sys.stdout.write(render_show_json(summary) + "\n")
        return
    from bpcli.render.spec import render_show_rich

    render_show_rich(summary, make_console())


@handles_errors
def schema_command(
    output: Optional[Path] = typer.Option(None, "--out", "-o", "--output", help="Write to FILE instead of stdout."),
) -> None:
    """Print the JSON Schema of a spec, for editor completion and checking.

    Generated from the registries: every layer, loss, optimizer, schedule and dataset with
    its options, types and defaults.

    \b
    Examples:
      bpcli schema > bpcli-spec.schema.json
      bpcli schema -o .vscode/bpcli-spec.schema.json
    Then put this first line in a spec (VS Code with the YAML extension):
      # yaml-language-server: $schema=./bpcli-spec.schema.json
    """
    from bpcli.render.spec import render_schema
    from bpcli.spec.schema import spec_schema

    text = render_schema(spec_schema()) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    from bpcli.errors import UsageError

    try:
        output.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {output}: {err}") from None
    print(f"wrote {output}", file=sys.stderr)
