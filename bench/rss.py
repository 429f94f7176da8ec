"""Peak memory of training steps: each side of a step case in a fresh process.

    python -m bench.rss CASE SIDE [--steps N] [--threads N] [--batch N]   # prints one JSON line

The child builds the side as the step benchmark does (same weights, same batch, the same
`reuse_freed_memory()` allocator settings for every side), reads its RSS (the baseline:
imports, model, batch), resets the kernel's peak-RSS mark (`5` into /proc/self/clear_refs),
runs N steps and reads the peak (VmHWM). Reported in MB: the baseline and `step_mb`, the peak
above it, which is what training steps add: activations, gradients, optimizer state, scratch
buffers (the first step makes them; later steps reuse or reallocate them). Where the mark
cannot be reset, the peak since the process started is used (the note says so). `--batch N`
steps on the first N examples of the case's batch (e.g. half of it: what each of two replicas
that split the batch sees).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent


def _status_kb(field: str) -> Optional[int]:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def measure_in_this_process(case_name: str, side: str, steps: int, batch: Optional[int] = None) -> dict:
    """Build `side` of the case (on the first `batch` examples when given); its RSS then, and the peak above it over `steps` steps."""
    from bench.cases import case_named
    from bench.step_bench import LR, MOMENTUM, make_batch, make_weights
    from bpcli.host.heap_reuse import reuse_freed_memory

    case = case_named(case_name)
    weights = make_weights(case)
    X, y = make_batch(case)
    if batch:
        X, y = X[:batch], y[:batch]
    if side == "bpcli":
        from bench.bpcli_side import BpcliStep

        step = BpcliStep(case, weights, X, y, lr=LR, momentum=MOMENTUM)
    elif side == "torch":
        from bench.torch_models import TorchStep

        step = TorchStep(case, weights, X, y, lr=LR, momentum=MOMENTUM)
    else:
        raise SystemExit(f"unknown side {side!r}: bpcli or torch")
    reuse_freed_memory()
    baseline = _status_kb("VmRSS")
    reset = _reset_peak()
    for _ in range(steps):
        step()
    peak = _status_kb("VmHWM")
    if baseline is None or peak is None:
        return {"note": "no /proc/self/status: RSS not measured"}
    row = {"baseline_mb": baseline / 1024, "peak_mb": peak / 1024, "step_mb": max(peak - baseline, 0) / 1024, "steps": steps,
           "batch": int(X.shape[0])}
    if not reset:
        row["note"] = "peak since start (could not reset the mark)"
    return row


def measure(case_name: str, side: str, steps: int = 20, threads: Optional[int] = None, timeout: float = 300,
            batch: Optional[int] = None) -> dict:
    """measure_in_this_process in a fresh Python, so that nothing of the other side or of the
    timing loop is in the process; {"note": ...} when it fails."""
    argv = [sys.executable, "-m", "bench.rss", case_name, side, "--steps", str(steps)]
    if batch:
        argv += ["--batch", str(batch)]
    env = dict(os.environ)
    if threads:
        argv += ["--threads", str(threads)]
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"note": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"note": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"note": "no JSON on stdout"}


def add_rss(row: dict, case_name: str, threads: Optional[int]) -> None:
    """Put each ok side's measurement under sides[side]["rss"], and the bpcli/torch ratio of the
    step's memory (`ratio_rss_bpcli_torch`; issue 18's target: at most 1) into a step-bench row."""
    for side in ("bpcli", "torch"):
        if row["sides"].get(side, {}).get("status") == "ok":
            row["sides"][side]["rss"] = measure(case_name, side, threads=threads)
    b = row["sides"].get("bpcli", {}).get("rss", {}).get("step_mb")
    t = row["sides"].get("torch", {}).get("rss", {}).get("step_mb")
    row["ratio_rss_bpcli_torch"] = b / t if (b is not None and t) else None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="peak RSS of one side of a step case, in this process")
    p.add_argument("case")
    p.add_argument("side", choices=("bpcli", "torch"))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--batch", type=int, default=None, help="the first N examples of the case's batch")
    args = p.parse_args(argv)
    if args.threads and args.side == "torch":
        import torch

        torch.set_num_threads(args.threads)
    print(json.dumps(measure_in_this_process(args.case, args.side, args.steps, args.batch)))
    return 0


if __name__ == "__main__":
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    sys.exit(main())
