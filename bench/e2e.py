"""End to end: `bpcli train CONFIG --format json` against the PyTorch twin (bench/torch_fashion_mnist.py),
both as whole processes: wall time, time in the training loop, CPU time (user + sys), peak RSS,
test accuracy. The configs: the Fashion-MNIST MLP and small convnet (the installed dataset), and
the step bench's two CIFAR-sized convnets, convnet3 and conv4 (bench/configs/), on a synthetic
CIFAR-shaped set (bench/synthetic_cifar.py) written once per run to a temporary folder.

The Fashion-MNIST convnet runs 1 epoch by default (a NumPy convnet epoch over 54,000 images takes
tens of seconds); `epochs` / `max_examples` shorten or lengthen every run alike on both sides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bench.cli_bench import bpcli_argv
from bench.synthetic_cifar import SyntheticSet, sha256, write_synthetic

REPO = Path(__file__).resolve().parent.parent
DATASET_DIR = Path("/usr/share/datasets/fashion-mnist")
SAME_ACCURACY = 0.005  # "the same accuracy": within half a percentage point
TARGET_LOOP_RATIO = 1.0  # issue 18: the MLP's training loop at most torch's ...
CONVNET_LOOP_RATIO = 1.5  # ... every convnet's 1.5×


@dataclass(frozen=True)
class E2EConfig:
    name: str
    config: str  # relative to the repository
    overrides: tuple = ()  # KEY=VALUE applied on both sides by default
    target_loop_ratio: float = TARGET_LOOP_RATIO
    synthetic: Optional[SyntheticSet] = None  # generated data (data.path set to it) instead of Fashion-MNIST


CONFIGS = (
    E2EConfig("mlp", "configs/fashion-mnist-mlp.yaml"),
    E2EConfig("cnn", "configs/fashion-mnist-cnn.yaml", ("train.epochs=1",), target_loop_ratio=CONVNET_LOOP_RATIO),
    E2EConfig("convnet3", "bench/configs/convnet3-synthetic-cifar.yaml", target_loop_ratio=CONVNET_LOOP_RATIO,
              synthetic=SyntheticSet(n_train=6000, n_test=1000)),
    E2EConfig("conv4", "bench/configs/conv4-synthetic-cifar.yaml", target_loop_ratio=CONVNET_LOOP_RATIO,
              synthetic=SyntheticSet(n_train=4000, n_test=1000)),
)
CONFIG_NAMES = tuple(cfg.name for cfg in CONFIGS)


def _vm_hwm_kb(pid: int) -> int:
    """The peak RSS (VmHWM) of a running process's current program, 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _wait_watching_peak(pid: int, every: float = 0.02) -> tuple[int, os.struct_rusage, int]:
    """wait4 for the child, reading its VmHWM every `every` s meanwhile: (status, rusage, peak KB).
    The rusage's ru_maxrss is no use here: a child forked from this process starts with this
    process's pages (torch, the datasets) and keeps that mark across exec; VmHWM belongs to the
    program the child runs (its last ~20 ms are not seen)."""
    peak = 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, peak
        peak = max(peak, _vm_hwm_kb(pid))
        time.sleep(every)


def _run_json(argv: list, cwd: Path) -> tuple[float, float, float, dict, str]:
    """(wall s, CPU s of the process, its peak RSS in MB, the last stdout line as JSON, error)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True, cwd=cwd)
        status, usage, peak_kb = _wait_watching_peak(proc.pid)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        rss_mb = (peak_kb if peak_kb else usage.ru_maxrss) / 1024
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        return wall, cpu, rss_mb, {}, (stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
    try:
        return wall, cpu, rss_mb, json.loads(stdout.strip().splitlines()[-1]), ""
    except (json.JSONDecodeError, IndexError):
        return wall, cpu, rss_mb, {}, "no JSON on stdout"


def _row(wall: float, cpu: float, rss_mb: float, out: dict, final: dict, err: str) -> dict:
    return {"wall_s": wall, "cpu_s": cpu, "max_rss_mb": rss_mb,
            "train_seconds": out.get("train_seconds"), "epochs": out.get("epochs"),
            "test_accuracy": final.get("test_accuracy"), "val_accuracy": final.get("val_accuracy"),
            **({"note": err} if err else {})}


def _bpcli_run(config: Path, overrides: list) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        argv = bpcli_argv() + ["train", str(config), "--format", "json", "--quiet", "--out", str(Path(tmp) / "run"), *overrides]
        wall, cpu, rss, out, err = _run_json(argv, REPO)
    return _row(wall, cpu, rss, out, out.get("final", {}) if out else {}, err)


def _torch_run(config: Path, overrides: list, threads: Optional[int]) -> dict:
    argv = [sys.executable, str(Path(__file__).with_name("torch_fashion_mnist.py")), str(config)]
    if threads:
        argv += ["--threads", str(threads)]
    for item in overrides:
        argv += ["--set", item]
    wall, cpu, rss, out, err = _run_json(argv, REPO)
    return _row(wall, cpu, rss, out, out, err)


def overrides_for(cfg: E2EConfig, epochs: Optional[int], max_examples: Optional[int]) -> list:
    """The config's own KEY=VALUE defaults, then the bench options (which win)."""
    items = [o for o in cfg.overrides if not (epochs and o.startswith("train.epochs="))]
    if epochs:
        items.append(f"train.epochs={epochs}")
    if max_examples:
        items.append(f"data.max_examples={max_examples}")
    return items


def _median_row(rows: list) -> dict:
    ok = [row for row in rows if "note" not in row] or rows
    ok = sorted(ok, key=lambda row: row["train_seconds"] if row.get("train_seconds") is not None else row["wall_s"])
    row = dict(ok[len(ok) // 2])  # the run with the median training-loop time
    row["wall_s_all"] = [round(x["wall_s"], 2) for x in rows]
    row["train_seconds_all"] = [None if x.get("train_seconds") is None else round(x["train_seconds"], 2) for x in rows]
    return row


def bench_config(cfg: E2EConfig, use_torch: bool, threads: Optional[int], repeats: int,
                 epochs: Optional[int] = None, max_examples: Optional[int] = None,
                 data_path: Optional[Path] = None) -> dict:
    """Both sides `repeats` times, alternating; the median run of each; loop and wall ratios.
    `data_path` (the synthetic set's file) is given to both sides as data.path."""
    config = REPO / cfg.config
    overrides = overrides_for(cfg, epochs, max_examples)
    result: dict = {"name": cfg.name, "config": cfg.config, "overrides": overrides, "sides": {}, "repeats": repeats,
                    "target_loop_ratio": cfg.target_loop_ratio}
    if not config.exists():
        result["note"] = f"skipped: {cfg.config} does not exist"
        return result
    run_overrides = overrides + ([f"data.path={data_path}"] if data_path else [])
    runners = {"bpcli": lambda: _bpcli_run(config, run_overrides)}
    if use_torch:
        runners["torch"] = lambda: _torch_run(config, run_overrides, threads)
    else:
        result["note"] = "torch side skipped: pip install torch==2.13.0"
    runs: dict = {name: [] for name in runners}
    for r in range(repeats):  # alternate the sides so both see the same machine over the run
        for name in (list(runners) if r % 2 == 0 else list(runners)[::-1]):
            runs[name].append(runners[name]())
    for name, rows in runs.items():
        result["sides"][name] = _median_row(rows)
    if use_torch:
        _verdict(result)
    return result


def _verdict(result: dict) -> None:
    b, t = result["sides"]["bpcli"], result["sides"]["torch"]
    if b.get("train_seconds") and t.get("train_seconds"):
        result["ratio_loop"] = b["train_seconds"] / t["train_seconds"]
        result["ratio_wall"] = b["wall_s"] / t["wall_s"]
        result["ratio_cpu"] = b["cpu_s"] / t["cpu_s"] if t.get("cpu_s") else None
        result["ratio_rss"] = b["max_rss_mb"] / t["max_rss_mb"] if t.get("max_rss_mb") else None
    if b.get("test_accuracy") is None or t.get("test_accuracy") is None or "ratio_loop" not in result:
        return
    same = b["test_accuracy"] >= t["test_accuracy"] - SAME_ACCURACY
    target = result.get("target_loop_ratio", TARGET_LOOP_RATIO)
    fast = result["ratio_loop"] <= target
    result["meets_target"] = same and fast
    result["verdict"] = (
        f"{'✓' if result['meets_target'] else '✗'} accuracy {b['test_accuracy'] - t['test_accuracy']:+.4f} "
        f"({'same' if same else 'lower'}); training loop {result['ratio_loop']:.2f}× torch (target ≤ {target:g}), "
        f"wall {result['ratio_wall']:.2f}×"
    )


def synthetic_note(spec: SyntheticSet, path: Path) -> dict:
    """What the generated data set was, for the JSON: sizes, seed and the file's SHA-256."""
    return {"generator": "bench/synthetic_cifar.py", "n_train": spec.n_train, "n_test": spec.n_test,
            "seed": spec.seed, "sha256": sha256(path)}


def bench_end_to_end(use_torch: bool, threads: Optional[int] = None, repeats: int = 3,
                     epochs: Optional[int] = None, max_examples: Optional[int] = None,
                     only: tuple = ()) -> dict:
    """Every config of CONFIGS (or the names in `only`) end to end; the synthetic sets are written
    to a temporary folder first, each once, and removed afterwards."""
    result: dict = {"runs": [], "repeats": repeats, "epochs": epochs, "max_examples": max_examples}
    with tempfile.TemporaryDirectory(prefix="bpcli-e2e-") as data_dir:
        for cfg in CONFIGS:
            if only and cfg.name not in only:
                continue
            print(f"  {cfg.name}: {cfg.config} ...", file=sys.stderr, flush=True)
            if cfg.synthetic is None and not DATASET_DIR.exists():
                result["runs"].append({"name": cfg.name, "config": cfg.config, "sides": {},
                                       "note": "skipped: Fashion-MNIST missing (apt-get install dataset-fashion-mnist)"})
                continue
            data_path = write_synthetic(Path(data_dir), cfg.synthetic) if cfg.synthetic else None
            run = bench_config(cfg, use_torch, threads, repeats, epochs, max_examples, data_path)
            if data_path:
                run["synthetic_data"] = synthetic_note(cfg.synthetic, data_path)
            result["runs"].append(run)
    return result
