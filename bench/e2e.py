"""Fashion-MNIST MLP end to end: `bpcli train CONFIG --format json` against the PyTorch twin
(bench/torch_fashion_mnist.py), both as whole processes: wall time and test accuracy."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.cli_bench import bpcli_argv

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "fashion-mnist-mlp.yaml"
DATASET_DIR = Path("/usr/share/datasets/fashion-mnist")
SAME_ACCURACY = 0.005  # "the same accuracy": within half a percentage point


def _run_json(argv: list, cwd: Path) -> tuple[float, dict, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return wall, {}, (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
    try:
        return wall, json.loads(proc.stdout.strip().splitlines()[-1]), ""
    except (json.JSONDecodeError, IndexError):
        return wall, {}, "no JSON on stdout"


def _bpcli_run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        argv = bpcli_argv() + ["train", str(CONFIG), "--format", "json", "--quiet", "--out", str(Path(tmp) / "run")]
        wall, out, err = _run_json(argv, REPO)
    final = out.get("final", {}) if out else {}
    return {"wall_s": wall, "train_seconds": out.get("train_seconds"), "epochs": out.get("epochs"),
            "test_accuracy": final.get("test_accuracy"), "val_accuracy": final.get("val_accuracy"),
            **({"note": err} if err else {})}


def _torch_run(threads: int | None) -> dict:
    argv = [sys.executable, str(Path(__file__).with_name("torch_fashion_mnist.py")), str(CONFIG)]
    if threads:
        argv += ["--threads", str(threads)]
    wall, out, err = _run_json(argv, REPO)
    return {"wall_s": wall, "train_seconds": out.get("train_seconds"), "epochs": out.get("epochs"),
            "test_accuracy": out.get("test_accuracy"), "val_accuracy": out.get("val_accuracy"),
            **({"note": err} if err else {})}


def bench_fashion_mnist(use_torch: bool, threads: int | None = None, repeats: int = 3) -> dict:
    result: dict = {"config": str(CONFIG.relative_to(REPO)), "sides": {}}
    if not CONFIG.exists():
        result["note"] = f"skipped: {result['config']} does not exist yet"
        return result
    if not DATASET_DIR.exists():
        result["note"] = "skipped: Fashion-MNIST missing (apt-get install dataset-fashion-mnist)"
        return result
    runners = {"bpcli": _bpcli_run}
    if use_torch:
        runners["torch"] = lambda: _torch_run(threads)
    else:
        result["note"] = "torch side skipped: pip install torch==2.13.0"
    runs: dict = {name: [] for name in runners}
    for r in range(repeats):  # alternate the sides so both see the same machine over the run
        for name in (list(runners) if r % 2 == 0 else list(runners)[::-1]):
            runs[name].append(runners[name]())
    for name, rows in runs.items():
        ok = [row for row in rows if "note" not in row] or rows
        ok.sort(key=lambda row: row["wall_s"])
        row = dict(ok[len(ok) // 2])  # the run with the median wall time
        row["wall_s_all"] = [round(x["wall_s"], 2) for x in rows]
        result["sides"][name] = row
    result["repeats"] = repeats
    if not use_torch:
        return result
    b, t = result["sides"]["bpcli"], result["sides"]["torch"]
    if b.get("test_accuracy") is not None and t.get("test_accuracy") is not None:
        same = b["test_accuracy"] >= t["test_accuracy"] - SAME_ACCURACY
        faster = b["wall_s"] < t["wall_s"]
        result["meets_target"] = same and faster
        result["verdict"] = (
            f"{'✓' if result['meets_target'] else '✗'} accuracy {b['test_accuracy'] - t['test_accuracy']:+.4f} "
            f"({'same' if same else 'lower'}), wall {b['wall_s'] / t['wall_s']:.2f}× torch ({'faster' if faster else 'slower'})"
        )
    return result
