"""`bpcli export RUN FILE.safetensors` and `bpcli import FILE.safetensors SPEC`: parse, one library call, render."""

from pathlib import Path
from typing import List, Optional

import typer

from bpcli.commands.common import FORMATS_HELP, check_format, handles_errors, make_console, split_assignments
from bpcli.errors import UsageError

NAMES = ("torch", "bpcli")


@handles_errors
def export_command(
    target: Path = typer.Argument(..., metavar="RUN_OR_CHECKPOINT", help="A run directory or a .npz checkpoint."),
    out: Path = typer.Argument(..., metavar="FILE.safetensors", help="The weights file; its architecture goes beside it as FILE.json."),
    names: str = typer.Option("torch", "--names", metavar="torch|bpcli", help="torch: PyTorch state_dict names and layouts (dense W transposed to (out, in)); bpcli: bpcli's own names and layouts."),
    checkpoint: str = typer.Option("last", "--checkpoint", metavar="last|best", help="For a run directory: its last or best checkpoint."),
    force: bool = typer.Option(False, "--force", help="Replace FILE.safetensors / FILE.json when they exist."),
    fmt: str = typer.Option("rich", "--format", "-f", help=FORMATS_HELP),
) -> None:
    """Export a trained model's weights (and batchnorm buffers) as safetensors, for PyTorch.

    With the default --names torch the tensors carry the state_dict names of the equivalent
    torch.nn.Sequential (FILE.json lists its modules), so model.load_state_dict(load_file(FILE))
    works; see docs/guide/weights.md for the mapping and a loading snippet.

    \b
    Examples:
      bpcli export runs/spiral-20250101-120000 w.safetensors
      bpcli export runs/cnn cnn.safetensors --checkpoint best
      bpcli export runs/residual r.safetensors --names bpcli
    """
    from bpcli.render.weights import render_export
    from bpcli.trained.weights import export_run

    fmt = check_format(fmt, ("rich", "json"))
    if names not in NAMES:
        raise UsageError(f"unknown --names '{names}'; choose from: {', '.join(NAMES)}")
    weights, json_path, _ = export_run(target, out, names=names, checkpoint=checkpoint, force=force)  # type: ignore[arg-type]
    render_export(weights, json_path, fmt, make_console())


@handles_errors
def import_command(
    weights: Path = typer.Argument(..., metavar="FILE.safetensors", help="Weights with torch state_dict names or bpcli names."),
    args: Optional[List[str]] = typer.Argument(None, metavar="SPEC [NAME=VALUE]...", help="The spec whose model takes the weights, then overrides."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE.npz", help="The checkpoint to write (default: FILE.npz beside the weights)."),
    force: bool = typer.Option(False, "--force", help="Replace --out when it exists."),
    fmt: str = typer.Option("rich", "--format", "-f", help=FORMATS_HELP),
) -> None:
    """Load safetensors weights into a spec's model and save them as a checkpoint.

    Every name and shape is checked against the model first; each mismatch is listed (exit 2).
    The checkpoint works with `bpcli evaluate` and `bpcli predict`. To start training from the
    weights instead, use `bpcli train SPEC train.init_from=FILE.safetensors`.

    \b
    Examples:
      bpcli import spiral.safetensors spiral
      bpcli import w.safetensors cs231n-two-layer-net -o w.npz
      bpcli evaluate w.npz
    """
    from bpcli.render.weights import render_import
    from bpcli.trained.weights import import_weights

    fmt = check_format(fmt, ("rich", "json"))
    tokens = list(args or [])
    if not tokens or "=" in tokens[0]:
        raise UsageError("give the spec the weights belong to: bpcli import FILE.safetensors SPEC [NAME=VALUE]...")
    split_assignments(tokens[1:])
    result = import_weights(weights, tokens[0], tokens[1:], out or weights.with_suffix(".npz"), force=force)
    render_import(result, fmt, make_console())
