"""The end-of-run summary table and the evaluate table."""

from __future__ import annotations

from typing import Any, Dict, Optional

from rich.console import Console
from rich.table import Table


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}"


def metrics_table(title: str, metrics: Dict[str, Optional[float]]) -> Table:
    """Rows loss / accuracy, one column per split present in `metrics` (train_loss, val_accuracy ...)."""
    splits = [k[: -len("_loss")] for k, v in metrics.items() if k.endswith("_loss") and v is not None]
    table = Table(title=title or None, title_justify="left")
    table.add_column("metric")
    for s in splits:
        table.add_column(s, justify="right")
    for metric in ("loss", "accuracy"):
        if any(metrics.get(f"{s}_{metric}") is not None for s in splits):
            table.add_row(metric, *[_fmt(metrics.get(f"{s}_{metric}")) for s in splits])
    return table


def render_summary(console: Console, summary: Dict[str, Any]) -> None:
    """Final metrics, then one line: epochs, steps, time, best epoch, run directory."""
    console.print(metrics_table("final metrics", summary["final"]))
    facts = [f"{summary['epochs']} epochs", f"{summary['steps']} steps", f"{summary['train_seconds']:.2f} s"]
    if summary.get("best_epoch") is not None:
        facts.append(f"best {summary['best_metric']} at epoch {summary['best_epoch']}")
    if summary.get("stopped_early"):
        facts.append("stopped early (best weights restored)")
    console.print(", ".join(facts), markup=False, highlight=False)
    console.print(f"run directory: {summary['run_dir']}", markup=False, highlight=False)


def render_overfit(console: Console, summary: Dict[str, Any], first_loss: Optional[float]) -> None:
    """The lecture's overfit check: did the loss on N examples go near zero?"""
    n = summary.get("overfit_examples")
    last = summary["final"].get("train_loss")
    acc = summary["final"].get("train_accuracy")
    near_zero = last is not None and last < 0.05
    verdict = "near zero, ok" if near_zero else (
        "NOT near zero: train longer, raise the lr, or look for a bug")
    start = f"{first_loss:.4f} -> " if first_loss is not None else ""
    acc_text = f", accuracy {acc:.2%}" if acc is not None else ""
    console.print(f"overfit check ({n} examples): loss {start}{last:.4f}{acc_text}: {verdict}", markup=False, highlight=False)
