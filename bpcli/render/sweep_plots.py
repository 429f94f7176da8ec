"""A sweep's pictures as PNG files in its directory: the course's learning-rate x
regularization scatter coloured by the metric, and Optuna's parallel coordinates and
parameter importances (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from bpcli.render.sweep import scatter_axes
from bpcli.sweep.report import SweepReport

MIN_TRIALS_FOR_IMPORTANCE = 3


def save_sweep_pictures(study, report: SweepReport) -> list[Path]:
    """scatter.png, parallel.png, importance.png (each when the sweep has enough finished
    trials to draw it); the paths written."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    done = [r for r in report.rows if r.state == "COMPLETE" and r.value is not None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(done) >= 2:
            written.append(_scatter(plt, report, done))
            written.append(_optuna_figure(plt, report, "parallel.png", _parallel, study))
        if len(done) >= MIN_TRIALS_FOR_IMPORTANCE and len(report.params) >= 2:
            written.append(_optuna_figure(plt, report, "importance.png", _importance, study))
    return [p for p in written if p is not None]


def _scatter(plt, report: SweepReport, done) -> Path:
    axes = scatter_axes(report.params)
    fig, ax = plt.subplots(figsize=(6.4, 5.0), dpi=120)
    values = [r.value for r in done]
    cmap = "viridis" if report.config.direction == "maximize" else "viridis_r"
    xp = axes[0]
    xs = [r.params[xp.name] for r in done]
    if len(axes) > 1:
        yp = axes[1]
        ys = [r.params[yp.name] for r in done]
        points = ax.scatter(xs, ys, c=values, cmap=cmap, s=36, edgecolors="black", linewidths=0.3)
        ax.set_ylabel(yp.name)
        if yp.log:
            ax.set_yscale("log")
        fig.colorbar(points, ax=ax, label=report.metric)
    else:
        ys = values
        ax.scatter(xs, ys, c=values, cmap=cmap, s=36, edgecolors="black", linewidths=0.3)
        ax.set_ylabel(report.metric)
    if report.best:
        b = report.best[0]
        by = b.params[axes[1].name] if len(axes) > 1 else b.value
        ax.scatter([b.params[xp.name]], [by], marker="*", s=260, facecolors="none", edgecolors="red", linewidths=1.5,
                   label=f"best: trial {b.number}, {report.metric} {b.value:.4f}")
        ax.legend(loc="best", fontsize=8)
    if xp.log:
        ax.set_xscale("log")
    ax.set_xlabel(xp.name)
    ax.set_title(f"{report.config.study}: {len(done)} finished trials")
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    path = report.sweep_dir / "scatter.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def _parallel(study, metric: str):
    from optuna.visualization.matplotlib import plot_parallel_coordinate

    return plot_parallel_coordinate(study, target_name=metric)


def _importance(study, metric: str):
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.visualization.matplotlib import plot_param_importances

    return plot_param_importances(study, evaluator=PedAnovaImportanceEvaluator(), target_name=metric)


def _optuna_figure(plt, report: SweepReport, name: str, draw, study):
    try:
        ax = draw(study, report.metric)
    except (ValueError, RuntimeError, ImportError):
        return None
    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    fig.set_size_inches(8, 5)
    fig.tight_layout()
    path = report.sweep_dir / name
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
