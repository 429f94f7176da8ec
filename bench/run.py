"""bpcli's benchmark against PyTorch CPU: training steps, GFLOP/s, gradient checks, CLI start-up,
and `bpcli train` end to end. Prints a table and writes JSON.

    python bench/run.py                      # everything (a few minutes)
    python bench/run.py --quick              # shorter timings, no end-to-end runs
    python bench/run.py --only e2e --e2e-config conv4   # one end-to-end config
    python bench/run.py --only mnist         # one step case (or: steps, gradcheck, cli, e2e)
    python bench/run.py --json bench/results/latest.json

torch is optional: pip install torch==2.13.0 (the CPU build); without it only the comparisons
are skipped. Tests never assert on these times.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import os

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.cases import CASES  # noqa: E402  (no NumPy import: BLAS threads are set below first)

SECTIONS = ("steps", "gemm", "gradcheck", "cli", "e2e")
SMOKE_BATCH = 8
E2E_CONFIGS = ("mlp", "cnn", "convnet3", "conv4")  # bench/e2e.py's CONFIGS (not imported here: it imports NumPy)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="shorter timings; skip the end-to-end runs")
    p.add_argument("--smoke", action="store_true", help="a few steps of bpcli and NumPy only, for the test suite")
    p.add_argument("--no-torch", action="store_true", help="do not import torch even when it is installed")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="a step case (" + ", ".join(c.name for c in CASES) + ") or a section (" + ", ".join(SECTIONS) + "); repeatable")
    p.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "latest.json", help="where to write the JSON results")
    p.add_argument("--e2e-repeats", type=int, default=3, help="end-to-end runs per side, alternating (default 3; the median is shown)")
    p.add_argument("--e2e-config", action="append", default=[], choices=E2E_CONFIGS, metavar="NAME",
                   help="end-to-end configs to run: mlp (configs/fashion-mnist-mlp.yaml), cnn (configs/fashion-mnist-cnn.yaml), "
                        "convnet3, conv4 (bench/configs/*-synthetic-cifar.yaml, on generated CIFAR-shaped data); "
                        "repeatable; default all")
    p.add_argument("--e2e-epochs", type=int, default=None, metavar="N",
                   help="train every end-to-end config N epochs on both sides (default: each config's own, "
                        "the Fashion-MNIST convnet 1 instead of its 4: a NumPy convnet epoch over 54,000 images takes tens of seconds)")
    p.add_argument("--e2e-max-examples", type=int, default=None, metavar="N",
                   help="end-to-end runs on N training images instead of all (data.max_examples on both sides; "
                        "bpcli draws them at random, the torch twin takes the first N)")
    p.add_argument("--no-rss", action="store_true",
                   help="skip the peak-memory measurement of the step cases (each side of each case in a fresh process, ~2 s each)")
    p.add_argument("--full-gradcheck", action="store_true", help="also run the full-mode gradient check (very slow)")
    p.add_argument("--show", type=Path, metavar="JSON", help="print the tables of an earlier run's JSON and exit")
    p.add_argument("--threads", type=int, default=None, help="threads for NumPy's BLAS and torch alike (default: every core, NumPy's default)")
    args = p.parse_args(argv)
    known = set(SECTIONS) | {c.name for c in CASES}
    for name in args.only:
        if name not in known:
            p.error(f"unknown --only '{name}'; choose from: {', '.join(sorted(known))}")
    return args


def wanted(args, section: str, case: str | None = None) -> bool:
    if not args.only:
        return not (section == "e2e" and (args.quick or args.smoke))
    if section in args.only:
        return True
    return case is not None and case in args.only


def set_blas_threads(n: int) -> None:
    """Pin NumPy's BLAS (OpenBLAS/MKL/OpenMP) to n threads; works only before NumPy is imported."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def load_average() -> list | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.show:
        from bench import report

        report.print_report(json.loads(args.show.read_text(encoding="utf-8")))
        return 0
    if args.smoke and not args.threads:
        args.threads = 1  # tiny GEMMs; and a test suite running beside it must not make BLAS threads wait
    if args.threads:
        set_blas_threads(args.threads)
    from bench import machine, report
    from bench.torch_models import INSTALL_HINT, torch_available

    use_torch = torch_available() and not args.no_torch and not args.smoke
    threads = args.threads or machine.cores()
    if use_torch:
        import torch

        torch.set_num_threads(threads)
    results: dict = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "mode": "smoke" if args.smoke else "quick" if args.quick else "full",
        "machine": machine.describe(),
        "load_average_before": load_average(),
        "torch": {"used": use_torch, "threads": threads if use_torch else None,
                  "note": None if use_torch else ("disabled" if (args.no_torch or args.smoke) else "not installed: " + INSTALL_HINT)},
    }
    budget = 0.05 if args.smoke else 1.0 if args.quick else 3.0
    min_steps = 3 if args.smoke else 30

    if any(wanted(args, "steps", c.name) for c in CASES) or wanted(args, "gemm"):
        from bench.timing import gemm_peak_gflops

        peak = {"numpy": gemm_peak_gflops(512 if args.smoke else 2048, 2 if args.smoke else 8)}
        if use_torch:
            from bench.torch_models import torch_gemm_peak_gflops

            peak["torch"] = torch_gemm_peak_gflops(512 if args.smoke else 2048)
        results["gemm_peak_gflops"] = peak

    steps = []
    for case in CASES:
        if wanted(args, "steps", case.name):
            from bench.step_bench import bench_case

            print(f"timing {case.name} ...", file=sys.stderr, flush=True)
            if args.smoke:
                case = dataclasses.replace(case, batch=min(case.batch, SMOKE_BATCH))
            row = bench_case(case, use_torch=use_torch, budget_s=budget, min_steps=min_steps)
            if not (args.smoke or args.no_rss):
                from bench.rss import add_rss

                add_rss(row, case.name, threads)
            peak = results.get("gemm_peak_gflops", {}).get("numpy")
            for side in row["sides"].values():
                if peak and side.get("gflops"):
                    side["fraction_of_peak"] = side["gflops"] / peak
            steps.append(row)
    results["steps"] = steps

    if wanted(args, "gradcheck"):
        from bench.gradcheck_bench import bench_gradcheck

        print("timing gradcheck ...", file=sys.stderr, flush=True)
        results["gradcheck"] = bench_gradcheck(smoke=args.smoke, run_full=args.full_gradcheck)
    if wanted(args, "cli"):
        from bench.cli_bench import bench_cli

        print("timing CLI start-up ...", file=sys.stderr, flush=True)
        results["cli"] = bench_cli(repeats=3 if args.smoke else 10 if args.quick else 20)
    if wanted(args, "e2e"):
        from bench.e2e import bench_end_to_end

        print("running bpcli train end to end ...", file=sys.stderr, flush=True)
        results["e2e"] = bench_end_to_end(
            use_torch=use_torch, threads=threads if use_torch else None, repeats=args.e2e_repeats,
            epochs=args.e2e_epochs, max_examples=args.e2e_max_examples, only=tuple(args.e2e_config),
        )

    results["load_average_after"] = load_average()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=float) + "\n", encoding="utf-8")
    report.print_report(results)
    print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
