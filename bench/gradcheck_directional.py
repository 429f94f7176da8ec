"""Time `gradcheck --mode directional` on a 784-512-256-10 MLP (~535k parameters, batch 128).

    /work/venv/bin/python bench/gradcheck_directional.py [--repeats 7] [--k 3] [--h-table]

Prints the median wall time of the whole check (analytic gradients + 2 losses per direction,
k directions for each of the 7 tensors: input, W1, b1, W2, b2, W3, b3) and, with --h-table, the
directional error for h = 1e-2 … 1e-8: the evidence behind the directional default h.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def mlp_model(seed: int = 0):
    """784-512-256-10 relu MLP with softmax cross-entropy and L2, in float64."""
    import bpcli.nn.layers  # noqa: F401
    from bpcli.nn.graph import LayerGraph, Node
    from bpcli.nn.layer import LAYERS
    from bpcli.nn.losses import LOSSES
    from bpcli.nn.model import Model
    from bpcli.nn.regularization import REGULARIZERS

    dense, relu = LAYERS.get("dense"), LAYERS.get("relu")
    nodes = [Node("fc1", dense(units=512), ["input"]), Node("relu1", relu(), ["fc1"]),
             Node("fc2", dense(units=256), ["relu1"]), Node("relu2", relu(), ["fc2"]),
             Node("fc3", dense(units=10), ["relu2"])]
    graph = LayerGraph(nodes, (784,), dtype=np.float64, seed=seed)
    return Model(graph, LOSSES.get("softmax_cross_entropy")(), REGULARIZERS.get("l2"), 1e-4)


def batch(seed: int = 0, n: int = 128):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784)), rng.integers(0, 10, n)  # pixel-like inputs in [0, 1)


def time_directional(repeats: int, k: int) -> tuple[float, list, object]:
    from bpcli.gradcheck.runner import run_gradcheck
    from bpcli.gradcheck.targets import model_objectives

    model = mlp_model()
    X, y = batch()
    objectives = model_objectives(model, X, y)
    run_gradcheck(objectives, mode="directional", k=k)  # warm-up (allocations, BLAS threads)
    times, report = [], None
    for r in range(repeats):
        start = time.perf_counter()
        report = run_gradcheck(objectives, mode="directional", k=k, seed=r)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, report


def h_table(k: int, repeats: int = 3) -> list[tuple[float, float, float, int, int]]:
    """Per h: median and max |a − n| / max(|a|, |n|) over every direction (no floor), how many
    directions crossed a relu kink, and how many directions in all."""
    from bpcli.gradcheck.compare import relative_errors
    from bpcli.gradcheck.kinks import KinkWatch
    from bpcli.gradcheck.numeric import direction_difference, random_direction
    from bpcli.gradcheck.targets import model_objectives

    model = mlp_model()
    X, y = batch()
    objective = model_objectives(model, X, y)[0]
    watch = KinkWatch(objective.kink_states)
    objective.value()
    watch.set_base()
    grads = objective.gradients()
    rng = np.random.default_rng(0)
    directions = [(name, random_direction(a.shape, rng)) for name, a in objective.params.items()
                  for _ in range(k * repeats)]
    rows = []
    for h in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
        a = np.array([np.vdot(grads[name], v) for name, v in directions])
        diffs = [direction_difference(objective, {name: v}, h, watch) for name, v in directions]
        n = np.array([d.numeric for d in diffs])
        errors = relative_errors(a, n, 0.0)
        kinked = sum(d.kink is not None for d in diffs)
        rows.append((h, float(np.median(errors)), float(np.max(errors)), kinked, len(diffs)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--k", type=int, default=None, help="directions per tensor (default: the library default)")
    parser.add_argument("--h-table", action="store_true")
    args = parser.parse_args()
    model = mlp_model()
    n_params = model.graph.n_params()
    median, times, report = time_directional(args.repeats, args.k)
    print(f"784-512-256-10 MLP: {n_params:,} parameters (+ 128×784 input entries), batch 128, float64")
    print(f"directional mode, k={report.k} directions per tensor, h={report.h:g}: "
          f"median {median * 1000:.0f} ms over {len(times)} runs "
          f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms)")
    print(report.verdict())
    if args.h_table:
        print("h        median rel error  max rel error  directions crossing a kink   (no floor)")
        for h, median_err, max_err, kinked, total in h_table(args.k or 2):
            print(f"{h:<8.0e} {median_err:<17.2e} {max_err:<14.2e} {kinked}/{total}")


if __name__ == "__main__":
    main()
