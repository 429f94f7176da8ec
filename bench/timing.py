"""Timing helpers: interleaved blocks of training steps, subprocess wall times, the GEMM peak."""

from __future__ import annotations

import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

import numpy as np


@dataclass
class Stats:
    """Per-call times in seconds: median, 10th and 90th percentiles, count."""

    median: float
    p10: float
    p90: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> "Stats":
        xs = sorted(samples)
        n = len(xs)
        return cls(
            median=statistics.median(xs),
            p10=xs[int(0.1 * (n - 1))],
            p90=xs[int(0.9 * (n - 1))],
            n=n,
        )

    def to_dict(self) -> dict:
        return {"median_s": self.median, "p10_s": self.p10, "p90_s": self.p90, "n": self.n}


def _one_call_seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(
    steps: Dict[str, Callable[[], object]],
    *,
    budget_s: float,
    min_steps: int = 20,
    block_s: float = 0.4,
    settle_s: float = 0.1,
    warmup: int = 3,
    max_wall_s: float | None = None,
) -> Dict[str, Stats]:
    """Time every step function in alternating blocks; each side gets about `budget_s` seconds.

    Each step is timed alone (perf_counter around one call). A block is about `block_s` seconds
    (at least two steps) of one side, so every side sees the same machine state (turbo, other
    load) over the run. The steps of a block's first `settle_s` seconds (and always its first
    step) are dropped: after a switch the other library's idle BLAS/OpenMP threads keep
    spinning on the other core for ~50 ms (OpenBLAS's thread timeout, OpenMP's block time),
    which made torch's MNIST-sized step 2.7x slower in 50 ms blocks. Rounds go on until every side
    has `min_steps` samples and `budget_s` seconds of steps, or `max_wall_s` (default 4x the
    total budget) has passed.
    """
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    samples: Dict[str, List[float]] = {name: [] for name in steps}
    spent: Dict[str, float] = {name: 0.0 for name in steps}
    names = list(steps)
    limit = max_wall_s if max_wall_s is not None else 4.0 * budget_s * len(steps) + 1.0
    started = time.perf_counter()
    r = 0
    while True:
        done = all(len(samples[n]) >= min_steps and spent[n] >= budget_s for n in names)
        if done or (time.perf_counter() - started > limit and all(samples.values())):
            break
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            fn = steps[name]
            kept: List[float] = []
            t_block = 0.0
            n_block = 0
            while n_block < 2 or t_block < block_s:
                t = _one_call_seconds(fn)
                if n_block and t_block >= settle_s:
                    kept.append(t)
                n_block += 1
                t_block += t
            if not kept:  # steps longer than the settle time: keep all but the first
                kept = [t]
            samples[name].extend(kept)
            spent[name] += sum(kept)
        r += 1
    return {name: Stats.of(xs) for name, xs in samples.items()}


def command_wall_times(commands: Dict[str, List[str]], *, repeats: int, env=None) -> Dict[str, Stats]:
    """Wall time of whole processes, the commands alternating, `repeats` runs each (after one warm-up)."""
    samples: Dict[str, List[float]] = {name: [] for name in commands}
    for name, argv in commands.items():
        subprocess.run(argv, capture_output=True, env=env, check=False)
    for _ in range(repeats):
        for name, argv in commands.items():
            t0 = time.perf_counter()
            subprocess.run(argv, capture_output=True, env=env, check=False)
            samples[name].append(time.perf_counter() - t0)
    return {name: Stats.of(xs) for name, xs in samples.items()}


def gemm_peak_gflops(n: int = 2048, repeats: int = 8) -> float:
    """Best float32 GFLOP/s of np.matmul on n x n matrices (2n^3 FLOPs per product)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    best = min(_one_call_seconds(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9
