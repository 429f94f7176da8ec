"""Gradient-check time for the MNIST-sized model (784-512-256-10, batch 128), in each mode.

In-process (bpcli.gradcheck.run_gradcheck on bpcli.gradcheck.targets.model_objectives), float64
as every gradient check is. `full` differences every one of the ~535,000 entries twice; it is
run only on request (--full-gradcheck) and otherwise estimated from the sparse mode's time per
differenced entry.
"""

from __future__ import annotations

import time

import numpy as np

from bench.cases import case_named

MODES = ("directional", "sparse", "full")


def bench_gradcheck(smoke: bool = False, run_full: bool = False) -> dict:
    """Seconds per mode (median of a few runs; one run for the slow ones)."""
    case = case_named("mnist")
    result: dict = {"model": "784-512-256-10 relu MLP, softmax CE, batch 128, float64", "modes": []}
    try:
        from bpcli.gradcheck.runner import run_gradcheck
        from bpcli.gradcheck.targets import model_objectives
    except ImportError as err:
        result["note"] = f"bpcli gradcheck not available yet ({err.name or err})"
        return result
    from bench.bpcli_side import BpcliStep, NotAvailable
    from bench.step_bench import make_batch, make_weights

    X, y = make_batch(case)
    if smoke:
        X, y = X[:4], y[:4]
    try:
        step = BpcliStep(case, make_weights(case), X, y, lr=0.01, momentum=0.9)
    except NotAvailable as err:
        result["note"] = f"bpcli model not available yet: {err}"
        return result
    objectives = model_objectives(step.model, X.astype(np.float64), y, seed=0, label="mnist-sized")
    n_params = sum(int(np.prod(p.shape)) for p in step.graph.params().values()) + X.size
    result["entries_total"] = n_params
    per_entry = None
    for mode in MODES:
        row: dict = {"mode": mode}
        if smoke and mode != "directional":
            row["note"] = "not run (--smoke)"
            result["modes"].append(row)
            continue
        if mode == "full" and not run_full:
            if per_entry is not None:
                row["seconds"] = None
                row["estimated_seconds"] = per_entry * n_params
                row["note"] = (f"not run: {n_params:,} entries × 2 losses; estimated "
                               f"{per_entry * n_params / 60:.0f} min from the sparse mode's time per entry")
            else:
                row["note"] = "not run"
            result["modes"].append(row)
            continue
        repeats = 1 if smoke else 5 if mode == "directional" else 3
        times, report = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            report = run_gradcheck(objectives, mode=mode, seed=0)
            times.append(time.perf_counter() - t0)
        row["seconds"] = float(np.median(times))
        row["passed"] = bool(report.passed)
        row["k"] = report.k
        row["losses_evaluated"] = 2 * _differenced(report)
        row["entries"] = _differenced(report)
        if mode == "sparse" and row["entries"]:
            per_entry = row["seconds"] / row["entries"]
        row["note"] = f"k={report.k} per tensor, h={report.h:g}"
        result["modes"].append(row)
    return result


def _differenced(report) -> int:
    """How many centered differences the check took (entries or directions, over all tensors)."""
    return sum(int(c.entries) for c in report.checks)
