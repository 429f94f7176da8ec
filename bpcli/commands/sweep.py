"""`bpcli sweep`: parse, one library call (bpcli.sweep.run.sweep), render."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from bpcli.commands.common import FORMATS_HELP, check_format, handles_errors, make_console, print_notes, split_assignments, stdout_is_terminal


@handles_errors
def sweep_command(
    args: Optional[List[str]] = typer.Argument(
        None, metavar="SPEC [NAME=SPACE|NAME=VALUE]...",
        help="A spec file or built-in name, then search spaces NAME=SPACE with SPACE one of uniform(a,b), "
        "loguniform(a,b), int(a,b), choice(x,y,...), and NAME=VALUE overrides every trial shares.",
    ),
    n_trials: Optional[int] = typer.Option(None, "-n", "--trials", metavar="N", help="Trials in the sweep (default 20; with --resume: the new total)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", metavar="N", help="Trial processes on this machine (BLAS threads split between them; default 1)."),
    sampler: str = typer.Option("random", "--sampler", metavar="random|tpe", help="random: seeded random search (the course's advice); tpe: Optuna's TPE."),
    prune: bool = typer.Option(False, "--prune", help="Stop hopeless trials early (Optuna's median pruner on the per-epoch metric)."),
    metric: Optional[str] = typer.Option(None, "--metric", metavar="val_accuracy|val_loss", help="The objective (default: the early-stopping monitor when it is one, else val_accuracy)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="The sampler's seed (default: the spec's seed)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Sweep directory (default: sweeps/NAME-TIMESTAMP)."),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="DIR", help="Continue the sweep in DIR to its -n trials (after Ctrl-C or a crash)."),
    storage: Optional[str] = typer.Option(None, "--storage", metavar="URL|FILE", help="A shared study: postgresql://user@host/db, sqlite:///file.db, or a journal file on a shared file system."),
    study: Optional[str] = typer.Option(None, "--study", metavar="NAME", help="The study's name in --storage (processes giving the same one share its trials)."),
    plot: bool = typer.Option(False, "--plot", help="Also save scatter.png, parallel.png and importance.png in the sweep directory (needs matplotlib)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the final report."),
    fmt: str = typer.Option("rich", "--format", "-f", help=FORMATS_HELP),
) -> None:
    """Search hyperparameters with Optuna: every trial is a normal run directory.

    The objective is the validation metric, so the spec needs a validation split (data.val_fraction). At the end: the best trials, best.yaml (bpcli train runs it as is), warnings when a best value lies near the border of its range, and narrower ranges for the next, finer sweep. Full guide: docs/guide/sweep.md.

    \b
    Examples:
      bpcli sweep spiral data.val_fraction=0.2 \\
          'optimizer.lr=loguniform(1e-3,1)' \\
          'regularization.strength=loguniform(1e-6,1e-1)' -n 30 --workers 2
      bpcli sweep my.yaml 'model.0.units=choice(50,100,200)' \\
          train.epochs=20 --sampler tpe --prune
      bpcli sweep --resume sweeps/spiral-20250101-120000 -n 60
      bpcli sweep my.yaml 'optimizer.lr=loguniform(1e-4,1e-1)' \\
          --storage postgresql://me@dbhost/sweeps --study lr   # every machine
      bpcli sweep spiral data.val_fraction=0.2 \\
          'optimizer.lr=loguniform(1e-3,1)' --format json > sweep.json
    """
    from bpcli.errors import UsageError
    from bpcli.render.sweep import SweepProgress
    from bpcli.sweep.run import SweepRequest, SweepStopped, sweep

    fmt = check_format(fmt, ("rich", "json"))
    if plot:
        from bpcli.render.plots import PLOT_EXTRA_HINT, matplotlib_available

        if not matplotlib_available():
            raise UsageError(PLOT_EXTRA_HINT)
    tokens = list(args or [])
    spec = None
    if tokens and "=" not in tokens[0]:
        spec, tokens = tokens[0], tokens[1:]
    split_assignments(tokens)  # a usage error for any token without '='
    request = SweepRequest(
        spec=spec, tokens=tuple(tokens), n_trials=n_trials, workers=workers, sampler=sampler,
        prune=prune, metric=metric, seed=seed, out=out, resume=resume, storage=storage, study=study,
    )
    json_mode = fmt == "json"
    console = make_console(stderr=json_mode)
    live = not json_mode and stdout_is_terminal() and not quiet
    progress = SweepProgress(console, live=live, quiet=quiet or json_mode)
    try:
        report, study_obj = sweep(request, progress.on_start, progress.on_change, on_note=lambda note: print_notes([note]))
    except SweepStopped as stopped:
        progress.close()
        _finish(stopped.report, None, console, json_mode, plot, live)
        print(f"{stopped.message}; resume with: bpcli sweep --resume {stopped.report.sweep_dir}", file=sys.stderr)
        raise typer.Exit(130) from None
    finally:
        progress.close()
    _finish(report, study_obj, console, json_mode, plot, live)
    if not report.best:
        raise typer.Exit(1)


def _finish(report, study, console, json_mode: bool, plot: bool, color: bool) -> None:
    from bpcli.render.sweep import render_report

    pictures = []
    if plot and study is not None:
        from bpcli.render.sweep_plots import save_sweep_pictures

        pictures = save_sweep_pictures(study, report)
    if json_mode:
        import json

        data = report.to_dict()
        data["pictures"] = [str(p) for p in pictures]
        print(json.dumps(data))
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
        return
    render_report(console, report, color=color)
    for path in pictures:
        console.print(f"picture saved to {path}", markup=False, highlight=False)
