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
    fn: Optional[str] = typer.Option(None, "--fn", help="CS231n-style functions: FILE.py:affine_forward (affine_backward is found beside it), FILE.py:fwd,bwd, FILE.py:svm_loss_naive (returns (loss, grad)) or FILE.py:TwoLayerNet.loss; NAME=VALUE tokens are the arguments (shapes 4,3 or randn(4,3), [0,2,1], @x.npy, YAML like '{stride: 2}') and a class's constructor arguments."),
    wrt: Optional[str] = typer.Option(None, "--wrt", help="With --fn on a loss function: the argument(s) its gradient is of (default: the first array; a dict of gradients: all)."),
    dtype: str = typer.Option("float64", "--dtype", help="float64, or float32 to check in the dtype training uses (step and thresholds from float32 round-off; says what precision the float32 backward reaches)."),
    mode: str = typer.Option("auto", "--mode", help="full (every entry), sparse (k random entries per tensor), directional (k random directions per tensor), auto (by size)."),
    k: Optional[int] = typer.Option(None, "--k", help="Entries (sparse) or directions (directional) per tensor (default: 20 sparse, 2 directional)."),
    h: Optional[float] = typer.Option(None, "--h", help="Step of the centered difference (default: 1e-5; 1e-4 in directional mode)."),
    h_sweep: bool = typer.Option(False, "--h-sweep", help="Show the error at the worst entry for h = 1e-1 … 1e-10 and the convergence order measured (2 for a right gradient)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for sampled entries, directions, inputs (default: the spec's seed, else 0)."),
    batch: int = typer.Option(8, "--batch", help="Examples of the spec's data in the checked batch."),
    fmt: str = typer.Option("rich", "--format", "-f", help=FORMATS_HELP),
) -> None:
    """Compare analytic gradients (backward passes) with numerical ones (float64, or float32).

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
      bpcli gradcheck --fn layers.py:affine_forward x=4,5 w=5,3 b=3,
      bpcli gradcheck --fn layers.py:conv_forward_naive x=2,3,5,5 w=2,3,3,3 b=2, conv_param='{stride: 2, pad: 1}'
      bpcli gradcheck --fn classifiers.py:svm_loss_naive W=10,3 X=5,10 y=[0,2,1,0,1] reg=0.1 --wrt W
      bpcli gradcheck --fn fc_net.py:TwoLayerNet.loss input_dim=6 hidden_dim=5 num_classes=3 X=4,6 y=[0,1,2,0]
      bpcli gradcheck --layer dense --dtype float32
      bpcli gradcheck big.yaml --mode directional --format json
    """
    from pathlib import Path

    from bpcli.commands.gradcheck_request import GradcheckRequest, run_request

    check_format(fmt, ("rich", "json"))
    request = GradcheckRequest(
        target=target, assignments=split_assignments(assignments or []), layers=layers,
        split=split, layer=layer, shape=shape, fn=fn, wrt=wrt, dtype=dtype, mode=mode, k=k, h=h, sweep=h_sweep, seed=seed, batch=batch,
        base_dir=Path.cwd(),
    )
    result = run_request(request)
    from bpcli.commands.common import print_notes

    print_notes(getattr(result, "notes", ()))
    if fmt == "json":
        from bpcli.render.gradcheck import render_json

        typer.echo(render_json(result))
    else:
        from bpcli.commands.common import make_console
        from bpcli.render.gradcheck import render_rich

        render_rich(result, make_console())
    if not result.report.passed:
        raise typer.Exit(1)
