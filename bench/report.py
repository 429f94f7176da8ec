"""Render the benchmark's results as Rich tables (plain text when stdout is not a terminal)."""

from __future__ import annotations

import os
import sys


def _console():
    from rich.console import Console

    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "120"))
    return Console(width=width, highlight=False)


def ms(seconds) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.3f}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


def mark(ok) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def ratio_cell(ratio, target=None) -> str:
    if ratio is None:
        return "—"
    if target is None:
        return f"{ratio:.2f}"
    return f"{ratio:.2f} {mark(ratio <= target)} (≤ {target:g})"


def _count(n) -> str:
    if n is None:
        return "—"
    return f"{n / 1000:.0f}k" if n >= 10000 else str(n)


def rss_cell(row: dict) -> str:
    """Peak RSS a training step adds (bench/rss.py), bpcli · torch, and their ratio (target ≤ 1)."""
    cells = [row["sides"].get(s, {}).get("rss", {}).get("step_mb") for s in ("bpcli", "torch")]
    if all(c is None for c in cells):
        return "—"
    text = " · ".join("—" if c is None else f"{c:.1f}" for c in cells)
    ratio = row.get("ratio_rss_bpcli_torch")
    return text if ratio is None else f"{text} ({ratio_cell(ratio, 1.0)})"


def side_cell(side: dict) -> str:
    if side.get("median_s") is not None:
        return ms(side["median_s"])
    return side.get("status", "—")


def print_report(results: dict) -> None:
    from rich.table import Table

    con = _console()
    m = results["machine"]
    con.print(
        f"[bold]bpcli benchmark[/bold] ({results['mode']}) — {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"NumPy {m['numpy']} ({m['numpy_blas']}), torch {m.get('torch') or 'not installed'}"
        + (f" with {results['torch']['threads']} thread(s) (torch.set_num_threads, matching NumPy's BLAS)" if results["torch"]["used"] else "")
    )
    load = results.get("load_average_before")
    if load and load[0] > 0.5 * m["cores"]:
        con.print(f"[bold]warning[/bold]: load average {load[0]} on {m['cores']} cores when the run started: "
                  "other processes share the CPU, times are inflated and noisy (BLAS threads wait for each other)")
    if results["torch"].get("note"):
        con.print(f"torch: {results['torch']['note']}")
    peak = results.get("gemm_peak_gflops")
    if peak:
        con.print("float32 GEMM peak (2048² matmul): " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peak.items()))

    if results.get("steps"):
        t = Table(title="Training step (forward + backward + SGD momentum), median ms per step")
        for col in ("model", "bpcli", "torch", "numpy", "bpcli/torch", "numpy/torch", "GFLOP/s bpcli·torch·numpy",
                    "step RSS MB bpcli·torch", "steps timed"):
            t.add_column(col, justify="left" if col == "model" else "right")
        notes = []
        for row in results["steps"]:
            sides = row["sides"]
            gf = " · ".join(f"{sides[s]['gflops']:.0f}" if sides[s].get("gflops") else "—" for s in ("bpcli", "torch", "numpy"))
            n = "/".join(_count(sides[s].get("n")) for s in ("bpcli", "torch", "numpy"))
            t.add_row(
                row["name"],
                side_cell(sides["bpcli"]), side_cell(sides["torch"]), side_cell(sides["numpy"]),
                ratio_cell(row["ratio_bpcli_torch"], row["target_ratio"]),
                ratio_cell(row["ratio_numpy_torch"]), gf, rss_cell(row), n,
            )
            for s, side in sides.items():
                if side.get("reason") and side["status"] not in ("n/a",):
                    notes.append(f"{row['name']} {s}: {side['reason']}")
            losses = {s: side["initial_loss"] for s, side in sides.items() if side.get("initial_loss") is not None}
            if len(losses) > 1 and max(losses.values()) - min(losses.values()) > 1e-3 * max(1.0, abs(max(losses.values()))):
                notes.append(f"{row['name']}: initial losses differ, the models are not the same: {losses}")
        con.print(t)
        con.print("  " + "; ".join(f"{row['name']}: {row['description']}" for row in results["steps"]))
        for note in dict.fromkeys(notes):
            con.print(f"  {note}")

    gc = results.get("gradcheck")
    if gc:
        t = Table(title=f"Gradient check, {gc.get('model', 'MNIST-sized model')}: wall time per mode")
        for col in ("mode", "seconds", "entries checked", "passed", "note"):
            t.add_column(col)
        for row in gc.get("modes", []):
            t.add_row(row["mode"], "—" if row.get("seconds") is None else f"{row['seconds']:.2f}",
                      str(row.get("entries", "—")), mark(row.get("passed")), row.get("note", ""))
        if gc.get("note"):
            t.add_row("—", "—", "—", "", gc["note"])
        con.print(t)

    cli = results.get("cli")
    if cli:
        t = Table(title=f"Start-up wall time, median of {cli['repeats']} runs")
        for col in ("command", "ms", "× import typer, rich"):
            t.add_column(col, justify="left" if col == "command" else "right")
        for row in cli["commands"]:
            cell = ratio_cell(row["ratio_to_import"], row.get("target_ratio"))
            if row.get("works") is False:
                cell += f" ✗ not working: {row.get('note', '')}"
            t.add_row(row["command"], ms(row["median_s"]), cell)
        con.print(t)
        if cli.get("editable_install"):
            con.print("  bpcli is installed editable here: its import hook adds about 10 ms to each bpcli start-up "
                      "that a regular `pip install .` does not pay")

    e2e = results.get("e2e")
    if e2e:
        _print_e2e(con, e2e)


def _seconds(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def _print_e2e(con, e2e: dict) -> None:
    from rich.table import Table

    runs = e2e.get("runs") if "runs" in e2e else [e2e]  # JSON of older runs: one config
    t = Table(title=f"bpcli train end to end, median of {e2e.get('repeats', 1)} alternating runs "
                    "(bpcli train vs its PyTorch twin, whole processes)")
    for col in ("config", "side", "wall s", "train-loop s", "CPU s", "peak RSS MB", "test accuracy", "note"):
        t.add_column(col, justify="left" if col in ("config", "side", "note") else "right")
    for run in runs:
        label = run.get("name") or run.get("config", "")
        for name, row in run.get("sides", {}).items():
            acc = row.get("test_accuracy")
            note = row.get("note") or f"{row.get('epochs')} epochs; loop s of each run: {row.get('train_seconds_all', row.get('wall_s_all'))}"
            t.add_row(label, name, _seconds(row.get("wall_s")), _seconds(row.get("train_seconds")), _seconds(row.get("cpu_s")),
                      "—" if row.get("max_rss_mb") is None else f"{row['max_rss_mb']:.0f}",
                      "—" if acc is None else f"{acc:.4f}", note)
            label = ""
        if run.get("verdict"):
            t.add_row("", "bpcli/torch", ratio_cell(run.get("ratio_wall")), ratio_cell(run.get("ratio_loop")),
                      ratio_cell(run.get("ratio_cpu")), ratio_cell(run.get("ratio_rss")), "", run["verdict"])
        if run.get("overrides"):
            t.add_row("", "", "", "", "", "", "", "with " + " ".join(run["overrides"]))
        if run.get("note"):
            t.add_row(label, "—", "", "", "", "", "", run["note"])  # label: still the name when no side ran
    if e2e.get("note"):
        t.add_row("—", "", "", "", "", "", "", e2e["note"])
    con.print(t)
