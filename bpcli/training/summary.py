"""summary.json of a finished run."""

from __future__ import annotations

from typing import Any, Dict


def summary_of(run) -> Dict[str, Any]:
    """summary.json: the DESIGN.md keys (epochs, steps, train_seconds, run_dir, final) and more.
    `final` describes the weights in checkpoints/last.npz (`checkpoint`)."""
    r = run.result
    final = {k: v for k, v in r.final.items() if not (k.startswith("test_") and v is None)}
    summary = {
        "epochs": r.epochs,
        "steps": r.steps,
        "train_seconds": round(r.train_seconds, 4),
        "run_dir": str(run.run_dir.path),
        "final": final,
        "checkpoint": "last",
        "best_epoch": r.best_epoch,
        "best_metric": r.best_metric,
        "stopped_early": r.stopped_early,
        "seed": run.spec.seed,
        "dataset": run.data.name,
        "n_train": int(len(run.data.X_train)),
    }
    if run.overfit is not None:
        summary["overfit_examples"] = int(len(run.data.X_train))
    if r.sanity is not None:
        summary["initial_loss"] = r.sanity.initial_loss
        summary["expected_initial_loss"] = r.sanity.expected_loss
    return summary
