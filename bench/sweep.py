"""Sweep throughput: trials per minute for the spiral spec with 1 and 2 workers, and what the
engine (Optuna's journal, the worker processes) costs per trial against a bare `bpcli train`.

    python bench/sweep.py                  # 16 trials a sweep, 3 rounds (a few minutes on 2 cores)
    python bench/sweep.py --trials 8 --rounds 1

Each round runs, one after another: the bare `bpcli train` of the same spec (whole processes,
once per trial's values), `bpcli sweep -n N --workers 1`, and `--workers 2`; the report gives
medians over the rounds, so a machine busy with other work shifts all three alike.
Measured for each trial: its wall time inside the worker (`seconds`) against the training
loop's own time (`train_seconds` in its summary.json): the difference is the per-trial cost of
the sweep machinery (claiming the trial, the spec, data and model, the run directory, the
journal writes, heartbeats)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = ["spiral", "data.val_fraction=0.2"]
SPACE = ["optimizer.lr=loguniform(1e-2,1)", "regularization.strength=loguniform(1e-5,1e-2)"]


def bpcli(*args: str) -> tuple[float, str]:
    started = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "bpcli", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if r.returncode != 0:
        raise SystemExit(f"bpcli {' '.join(args)} failed: {r.stderr}")
    return seconds, r.stdout


def sweep_round(workers: int, trials: int, scratch: Path) -> dict:
    out = scratch / f"sweep-w{workers}-{time.monotonic_ns()}"
    wall, stdout = bpcli("sweep", *SPEC, *SPACE, "-n", str(trials), "--workers", str(workers),
                         "--seed", "1", "--out", str(out), "--format", "json")
    report = json.loads(stdout)
    inside, loop = [], []
    for t in report["trials"]:
        summary = json.loads((Path(t["run_dir"]) / "summary.json").read_text())
        inside.append(t["seconds"])
        loop.append(summary["train_seconds"])
    journal = out / "study.journal"
    return {
        "wall": wall, "trials_per_minute": 60 * trials / wall,
        "trial_seconds": statistics.median(inside), "train_seconds": statistics.median(loop),
        "overhead_seconds": statistics.median(a - b for a, b in zip(inside, loop)),
        "journal_bytes_per_trial": journal.stat().st_size / trials,
        "params": [t["params"] for t in report["trials"]],
    }


def bare_round(params: list[dict], scratch: Path) -> dict:
    walls, loops = [], []
    for i, p in enumerate(params):
        overrides = [f"{k}={v!r}" for k, v in p.items()]
        wall, stdout = bpcli("train", *SPEC, *overrides, "--quiet", "--format", "json",
                             "--out", str(scratch / f"bare-{time.monotonic_ns()}-{i}"))
        walls.append(wall)
        loops.append(json.loads(stdout)["train_seconds"])
    total = sum(walls)
    return {"wall": total, "trials_per_minute": 60 * len(params) / total,
            "process_seconds": statistics.median(walls), "train_seconds": statistics.median(loops),
            "overhead_seconds": statistics.median(w - s for w, s in zip(walls, loops))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()
    rows: dict[str, list[dict]] = {"bare": [], "w1": [], "w2": []}
    with tempfile.TemporaryDirectory(prefix="bpcli-sweep-bench-") as tmp:
        scratch = Path(tmp)
        for r in range(args.rounds):
            w1 = sweep_round(1, args.trials, scratch)
            rows["w1"].append(w1)
            rows["bare"].append(bare_round(w1["params"], scratch))
            rows["w2"].append(sweep_round(2, args.trials, scratch))
            print(f"round {r + 1}/{args.rounds}: bare {rows['bare'][-1]['trials_per_minute']:.0f}/min, "
                  f"1 worker {w1['trials_per_minute']:.0f}/min, 2 workers {rows['w2'][-1]['trials_per_minute']:.0f}/min",
                  file=sys.stderr)
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0] if m != "params"} for k, v in rows.items()}
    load = os.getloadavg()[0]
    print(f"spiral (data.val_fraction=0.2, 60 epochs), {args.trials} trials a sweep, median of {args.rounds} rounds; "
          f"{os.cpu_count()} cores, load average {load:.1f}")
    print(f"  bare `bpcli train` processes: {med['bare']['trials_per_minute']:6.1f} runs/min  "
          f"({med['bare']['process_seconds']:.2f} s a process, {med['bare']['train_seconds']:.2f} s of it training)")
    print(f"  bpcli sweep, 1 worker:        {med['w1']['trials_per_minute']:6.1f} trials/min  "
          f"({med['w1']['trial_seconds']:.2f} s a trial, {med['w1']['train_seconds']:.2f} s of it training)")
    print(f"  bpcli sweep, 2 workers:       {med['w2']['trials_per_minute']:6.1f} trials/min  "
          f"({med['w2']['trial_seconds']:.2f} s a trial, {med['w2']['train_seconds']:.2f} s of it training)")
    print(f"  2 workers / 1 worker: {med['w2']['trials_per_minute'] / med['w1']['trials_per_minute']:.2f}x")
    print(f"  per-trial cost outside the training loop: sweep {med['w1']['overhead_seconds'] * 1000:.0f} ms "
          f"(in a warm worker), bare train {med['bare']['overhead_seconds'] * 1000:.0f} ms (a whole process); "
          f"journal {med['w1']['journal_bytes_per_trial'] / 1024:.1f} KiB a trial")
    if args.json:
        args.json.write_text(json.dumps({"median": med, "rounds": rows, "load": load}, indent=2) + "\n")


if __name__ == "__main__":
    main()
