"""The end-of-run summary table and the evaluate table."""

from __future__ import annotations

from typing import Any, Dict, Optional

from rich import box
from rich.console import Console
from rich.table import Table


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}"


def metrics_table(title: str, metrics: Dict[str, Optional[float]]) -> Table:
    """Rows data loss / reg loss / total loss / accuracy, one column per split present in
    `metrics` (train_loss, val_accuracy ..., reg_loss); reg and total fill the first column only."""
    splits = [k[: -len("_loss")] for k, v in metrics.items() if k.endswith("_loss") and k != "reg_loss" and v is not None]
    table = Table(title=title or None, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("metric")
    for s in splits:
        table.add_column(s, justify="right")
    table.add_row("data loss", *[_fmt(metrics.get(f"{s}_loss")) for s in splits])
    reg = metrics.get("reg_loss")
    if reg and splits:  # one value: it depends on the weights only
        table.add_row("reg loss", _fmt(reg), *["" for _ in splits[1:]])
        table.add_row("total loss", _fmt(metrics[f"{splits[0]}_loss"] + reg), *["" for _ in splits[1:]])
    if any(metrics.get(f"{s}_accuracy") is not None for s in splits):
        table.add_row("accuracy", *[_fmt(metrics.get(f"{s}_accuracy")) for s in splits])
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
