"""`bpcli train`, `bpcli evaluate`, `bpcli predict`: parse, one library call, render."""

import sys
from pathlib import Path
from typing import List, Optional

import typer

from bpcli.commands.common import (
    FORMATS_HELP, check_format, handles_errors, make_console, print_notes, split_assignments, stdout_is_terminal,
)
from bpcli.errors import UsageError


def _config_and_overrides(tokens: List[str]) -> tuple[Optional[str], List[str]]:
    """[CONFIG] [NAME=VALUE ...]: the first token without '=' is the config."""
    config = None
    if tokens and "=" not in tokens[0]:
        config, tokens = tokens[0], tokens[1:]
    split_assignments(tokens)  # a usage error for any token without '='
    return config, list(tokens)


@handles_errors
def train_command(
    args: Optional[List[str]] = typer.Argument(
        None, metavar="[CONFIG] [NAME=VALUE]...",
        help="A spec file or built-in name (default: spiral), then dotted overrides like optimizer.lr=0.1.",
    ),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: runs/NAME-TIMESTAMP)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this directory from its last checkpoint."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on stdout (errors still go to stderr); with --format json, only the JSON."),
    overfit: Optional[int] = typer.Option(None, "--overfit", metavar="N", help="Sanity check: train on N examples (no regularization) and show the loss goes near zero."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar="FILE.png", help="Also save the curves (and decision boundary) as an image: .png, .svg, .pdf ... (needs the 'plot' extra)."),
    fmt: str = typer.Option("rich", "--format", "-f", help=FORMATS_HELP),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the spec's seed."),
) -> None:
    """Train a model from a YAML spec, with live progress, checkpoints and plots.

    \b
    Examples:
      bpcli train                                  # the CS231n spiral, built in
      bpcli train spiral optimizer.lr=0.5 train.epochs=50
      bpcli train my_spec.yaml --out runs/try1 --seed 3
      bpcli train cs231n-two-layer-net data.path=cifar-10-batches-py
      bpcli train --overfit 20                     # can the net drive the loss to ~0?
      bpcli train spiral --plot spiral.png         # curves and decision boundary, 16:9
      bpcli train --resume runs/spiral-20250101-120000
      bpcli train spiral --format json --quiet > summary.json
    """
    from bpcli.render.plots import PLOT_EXTRA_HINT, check_plot_path, matplotlib_available
    from bpcli.render.progress import make_progress
    from bpcli.training.entry import resume_run, train_spec
    from bpcli.spec import load_spec
    from bpcli.training.ctrl_c import TrainingInterrupted

    fmt = check_format(fmt, ("rich", "json"))
    if plot is not None:
        if not matplotlib_available():
            raise UsageError(PLOT_EXTRA_HINT)
        check_plot_path(plot)
    config, overrides = _config_and_overrides(list(args or []))
    json_mode = fmt == "json"
    console = make_console(stderr=json_mode)
    live = not json_mode and stdout_is_terminal()
    callbacks = make_progress(console, live=live, quiet=quiet)
    try:
        if resume is not None:
            if config is not None or seed is not None or overfit is not None or out is not None:
                raise UsageError("--resume continues a run with its own spec and seed; give only NAME=VALUE overrides with it")
            run = resume_run(resume, overrides, callbacks=callbacks, on_note=lambda text: print(text, file=sys.stderr))
        else:
            if seed is not None:
                overrides.append(f"seed={seed}")
            spec = load_spec(config or "spiral", overrides)
            print_notes(spec.notes)
            if not quiet:
                console.print(f"spec: {spec.origin}", markup=False, highlight=False, soft_wrap=True)
            name = Path(config).stem if config else "spiral"
            run = train_spec(spec, name=name, out=out, callbacks=callbacks, overfit=overfit)
    except TrainingInterrupted as err:
        _close(callbacks)
        run_dir = err.run_dir
        saved = f"checkpoint saved to {err.checkpoint_path}" if err.checkpoint_path else "no checkpoint was saved yet"
        again = f"; resume with: bpcli train --resume {run_dir}" if run_dir else ""
        print(f"{err.message}; {saved}{again}", file=sys.stderr)
        raise typer.Exit(130) from None
    except KeyboardInterrupt:  # before the run directory existed: loading data, building the model
        _close(callbacks)
        print("interrupted before training started; nothing was saved", file=sys.stderr)
        raise typer.Exit(130) from None
    finally:
        _close(callbacks)
    _report(run, console, json_mode, quiet, plot, live)


def _close(callbacks) -> None:
    close = getattr(callbacks, "close", None)
    if close:
        close()


def _save_plot(run, history, plot: Path, has_surface: bool, summary_final: dict) -> Optional[str]:
    """Save the picture; the error text when that fails (the run itself is kept)."""
    from bpcli.render.plots import save_png
    from bpcli.trained.surface import decision_surface

    fine = decision_surface(run.model, run.data.X_train, cols=300, rows=300) if has_surface else None
    try:
        save_png(plot, history, fine, run.data.X_train, run.data.y_train, final=summary_final)
    except (OSError, ValueError, RuntimeError) as err:
        why = getattr(err, "strerror", None) or str(err)
        return f"cannot save the plot to {plot}: {why} (the run itself is saved in {run.run_dir.path})"
    return None


def _report(run, console, json_mode: bool, quiet: bool, plot: Optional[Path], color: bool) -> None:
    from bpcli.training.summary import summary_of

    summary = summary_of(run)
    history = [m.to_dict() for m in run.result.history]
    surface = _terminal_surface(run, console.width)
    plot_error = _save_plot(run, history, plot, surface is not None, summary["final"]) if plot is not None else None
    saved = plot if plot is not None and plot_error is None else None
    _render(run, summary, history, surface, console, json_mode, quiet, color, saved)
    if plot_error:
        raise UsageError(plot_error)


def _terminal_surface(run, width: int):
    """The decision surface at the terminal's width and the data's aspect (None unless 2-D)."""
    from bpcli.render.plots import surface_size
    from bpcli.trained.surface import decision_surface

    X = run.data.X_train
    if X is None or X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        return None
    span = X.max(axis=0) - X.min(axis=0)
    cols, rows = surface_size(width, float(span[0]), float(span[1]))
    return decision_surface(run.model, X, cols=cols, rows=rows)


def _render(run, summary, history, surface, console, json_mode: bool, quiet: bool, color: bool, saved_plot: Optional[Path] = None) -> None:
    """Pictures first, then the run's essentials (final metrics, where it was saved) last."""
    from bpcli.render.plots import decision_boundary, line_chart
    from bpcli.render.summary import render_overfit, render_summary

    if json_mode:
        import json

        print(json.dumps(summary))
        return
    if quiet:  # nothing on stdout but what --format json asks for
        return
    width = console.width
    final = summary["final"]
    series = {"train": [h["train_loss"] for h in history], "val": [h["val_loss"] for h in history]}
    console.print(line_chart(series, title="data loss (without regularization)", color=color, width=width,
                             finals={"train": final.get("train_loss")}))
    if any(h["train_accuracy"] is not None for h in history):
        acc = {"train": [h["train_accuracy"] for h in history], "val": [h["val_accuracy"] for h in history]}
        console.print(line_chart(acc, title="accuracy", color=color, width=width,
                                 finals={"train": final.get("train_accuracy")}))
    if surface is not None:
        console.print(decision_boundary(surface, run.data.X_train, run.data.y_train, color=color, width=width))
    if saved_plot is not None:
        console.print(f"plot saved to {saved_plot}", markup=False, highlight=False)
    if run.overfit is not None:
        first = history[0]["train_loss"] if history else None
        render_overfit(console, summary, first)
    render_summary(console, summary)


CHECKPOINT_HELP = "For a run directory: 'last' (the final weights, the ones summary.json describes) or 'best' (the best epoch's)."


def _load(target: Path, checkpoint: str):
    """The trained model, with its warnings (e.g. spec.yaml disagrees with the checkpoint) on stderr."""
    from bpcli.trained.load import load_trained

    trained = load_trained(target, checkpoint)
    for warning in trained.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return trained


@handles_errors
def evaluate_command(
    target: Path = typer.Argument(..., metavar="RUN_OR_CHECKPOINT", help="A run directory or a .npz checkpoint."),
    data: Optional[str] = typer.Option(None, "--data", metavar="CONFIG_OR_FILE", help="Evaluate on another spec's data, or a .csv/.npz file (default: the run's own splits)."),
    checkpoint: str = typer.Option("last", "--checkpoint", metavar="last|best", help=CHECKPOINT_HELP),
    fmt: str = typer.Option("rich", "--format", "-f", help=FORMATS_HELP),
) -> None:
    """Data loss and accuracy of a trained model on every split of its data (or of --data).

    A run directory is evaluated with its last checkpoint (the weights summary.json reports)
    unless --checkpoint best is given; the checkpoint used is printed first.

    \b
    Examples:
      bpcli evaluate runs/spiral-20250101-120000
      bpcli evaluate runs/spiral-20250101-120000 --checkpoint best
      bpcli evaluate runs/spiral-20250101-120000/checkpoints/last.npz
      bpcli evaluate runs/mlp --data datasets/example.csv --format json
    """
    from bpcli.render.summary import metrics_table
    from bpcli.trained.evaluation import evaluate_trained

    fmt = check_format(fmt, ("rich", "json"))
    trained = _load(target, checkpoint)
    metrics = evaluate_trained(trained, data)
    if fmt == "json":
        import json

        print(json.dumps({"checkpoint": str(trained.checkpoint_path), "metrics": metrics}))
        return
    console = make_console()
    console.print(f"checkpoint: {trained.checkpoint_path}", markup=False, highlight=False)
    console.print(metrics_table("", metrics))


@handles_errors
def predict_command(
    target: Path = typer.Argument(..., metavar="RUN_OR_CHECKPOINT", help="A run directory or a .npz checkpoint."),
    inputs: Path = typer.Argument(..., metavar="INPUT.csv", help="One example per row (a header row and a label column are allowed)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE.csv", help="Write the predictions here (default: stdout); never the input file."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out when it already exists."),
    checkpoint: str = typer.Option("last", "--checkpoint", metavar="last|best", help=CHECKPOINT_HELP),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv (a header row, one row per example) or json."),
) -> None:
    """Predict classes (with probabilities) for the rows of a CSV file, as CSV or JSON.

    The training standardization is applied to the inputs. A file with one column more than
    the model's features (like the training CSV) has its label column skipped, with a note.

    \b
    Examples:
      bpcli predict runs/spiral-20250101-120000 points.csv
      bpcli predict runs/spiral-20250101-120000 points.csv --out predictions.csv
      bpcli predict runs/spiral-20250101-120000 points.csv --out predictions.csv --force
      bpcli predict runs/spiral-20250101-120000 points.csv --format json
    """
    from bpcli.trained.predictions import check_output_path, predict, read_prediction_inputs, write_predictions, write_predictions_file

    fmt = check_format(fmt, ("csv", "json"))
    if out is not None:
        check_output_path(out, inputs, force)
    trained = _load(target, checkpoint)
    X, notes = read_prediction_inputs(trained, inputs)
    for note in notes:
        print(note, file=sys.stderr)
    columns = predict(trained, X)
    if out is None:
        write_predictions(sys.stdout, columns, fmt)
    else:
        write_predictions_file(out, columns, fmt)
        print(f"{len(X)} predictions written to {out}", file=sys.stderr)
