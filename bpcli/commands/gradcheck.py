"""`bpcli gradcheck`: analytic gradients against centered differences, with verdicts."""

from typing import List, Optional

import typer

from bpcli.commands.common import FORMATS_HELP, check_format, handles_errors, split_assignments


@handles_errors
def gradcheck_command(
    target: Optional[str] = typer.Argument(
        None, help="A spec file, a built-in spec name (spiral ...), or an expression in quotes."
    ),
    assignments: Optional[List[str]] = typer.Argument(
        None, help="NAME=VALUE: spec overrides (model.0.units=8) or expression values (x=0.3).",
        show_default=False,
    ),
    layers: bool = typer.Option(False, "--layers", help="Check each layer alone (random inputs and upstream gradient); alone: every built-in layer."),
    split: bool = typer.Option(False, "--split", help="Check the data loss and the regularization separately."),
    layer: Optional[str] = typer.Option(None, "--layer", help="A layer to check alone: a built-in name (dense ...), path/file.py:Class or package.module:Class; NAME=VALUE tokens are its options."),
    shape: Optional[str] = typer.Option(None, "--shape", help="Per-example input shape for --layer: 4, 2,3,3, or 4;4 for several inputs (default: the layer's first example)."),
    mode: str = typer.Option("auto", "--mode", help="full (every entry), sparse (k random entries per tensor), directional (k random directions per tensor), auto (by size)."),
    k: Optional[int] = typer.Option(None, "--k", help="Entries (sparse) or directions (directional) per tensor (default: 20 sparse, 2 directional)."),
    h: Optional[float] = typer.Option(None, "--h", help="Step of the centered difference (default: 1e-5; 1e-4 in directional mode)."),
    h_sweep: bool = typer.Option(False, "--h-sweep", help="Show the error at the worst entry for h = 1e-1 … 1e-10."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for sampled entries, directions, inputs (default: the spec's seed, else 0)."),
    batch: int = typer.Option(8, "--batch", help="Examples of the spec's data in the checked batch."),
    fmt: str = typer.Option("rich", "--format", "-f", help=FORMATS_HELP),
) -> None:
    """Compare analytic gradients (backward passes) with numerical ones, in float64.

    Exit 0 when every gradient agrees, 1 when one does not, 2 for bad usage.

    \b
    Examples:
      bpcli gradcheck spiral                     # a built-in spec's loss
      bpcli gradcheck my.yaml model.0.units=8 --split
      bpcli gradcheck spiral --layers            # each layer alone
      bpcli gradcheck --layers                   # every built-in layer
      bpcli gradcheck --layer my_layers.py:MyDense
      bpcli gradcheck --layer dense units=3 --shape 6
      bpcli gradcheck "x*sigmoid(x)" x=0.3 --h-sweep
      bpcli gradcheck big.yaml --mode directional --format json
    """
    from pathlib import Path

    from bpcli.gradcheck.request import GradcheckRequest, run_request

    check_format(fmt, ("rich", "json"))
    request = GradcheckRequest(
        target=target, assignments=split_assignments(assignments or []), layers=layers,
        split=split, layer=layer, shape=shape, mode=mode, k=k, h=h, sweep=h_sweep, seed=seed, batch=batch,
        base_dir=Path.cwd(),
    )
    result = run_request(request)
    if fmt == "json":
        from bpcli.render.gradcheck import render_json

        typer.echo(render_json(result))
    else:
        from bpcli.commands.common import make_console
        from bpcli.render.gradcheck import render_rich

        render_rich(result, make_console())
    if not result.report.passed:
        raise typer.Exit(1)
