"""Where a bpcli training step spends its time: every layer's forward and backward, the loss,
the optimizer update, against the whole step and the GEMM floor (the step's GEMMs alone; the
same GEMMs in torch too when it is installed).

    python bench/profile_step.py                 # mnist and wide
    python bench/profile_step.py wide --threads 1
    python bench/profile_step.py mnist --steps 300

Each piece is timed with perf_counter around the real call inside real steps (medians over
steps); "floor" times the same GEMMs the step needs as bare np.matmul into preallocated
buffers. Numbers only mean something on a quiet machine: the load average is printed.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _timed(fn, bucket: list):
    def wrapper(*a, **k):
        t0 = time.perf_counter()
        out = fn(*a, **k)
        bucket.append(time.perf_counter() - t0)
        return out

    return wrapper


def _median_ms(xs) -> float:
    return 1e3 * statistics.median(xs) if xs else float("nan")


def _gemm_pieces(case, mm, randn, empty) -> dict:
    """The step's GEMMs as closures over preallocated operands, by name: forward, dW, and dx
    except for the first layer. mm(a, b, out), randn(shape), empty(shape) come from NumPy or torch."""
    n = case.batch
    dims = [int(math.prod(case.input_shape))] + [op.size for op in case.ops if op.kind == "dense"]
    pieces = {}
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        x, W, g = randn((n, d_in)), randn((d_in, d_out)), randn((n, d_out))
        out, dW, dx = empty((n, d_out)), empty((d_in, d_out)), empty((n, d_in))
        pieces[f"L{i} fwd  x@W    ({n}x{d_in} @ {d_in}x{d_out})"] = lambda x=x, W=W, out=out: mm(x, W, out)
        pieces[f"L{i} dW   x.T@g  ({d_in}x{n} @ {n}x{d_out})"] = lambda x=x, g=g, dW=dW: mm(x.T, g, dW)
        if i:
            pieces[f"L{i} dx   g@W.T  ({n}x{d_out} @ {d_out}x{d_in})"] = lambda g=g, W=W, dx=dx: mm(g, W.T, dx)
    return pieces


def gemm_floor(case, steps: int) -> dict:
    """Median ms of each of the step's GEMMs as a bare np.matmul into a preallocated buffer."""
    import numpy as np

    rng = np.random.default_rng(0)
    pieces = _gemm_pieces(
        case,
        lambda a, b, out: np.matmul(a, b, out=out),
        lambda shape: rng.standard_normal(shape, dtype=np.float32),
        lambda shape: np.empty(shape, np.float32),
    )
    return {name: _median_of(fn, steps) for name, fn in pieces.items()}


def torch_gemm_floor(case, steps: int) -> dict:
    """The same GEMMs with torch.mm on torch's threads (as many as NumPy's BLAS), or {} without torch."""
    try:
        import torch
    except ImportError:
        return {}
    from bpcli.host.blas_threads import blas_threads

    torch.set_num_threads(blas_threads() or os.cpu_count() or 1)
    pieces = _gemm_pieces(
        case,
        lambda a, b, out: torch.mm(a, b, out=out),
        lambda shape: torch.randn(*shape),
        lambda shape: torch.empty(*shape),
    )
    return {name: _median_of(fn, steps) for name, fn in pieces.items()}


def _median_of(fn, steps: int) -> float:
    """Median ms of fn over `steps` calls, after 3 warm-up calls."""
    for _ in range(3):
        fn()
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return _median_ms(ts)


def profile(case_name: str, steps: int) -> None:
    import numpy as np

    from bench.cases import case_named
    from bench.bpcli_side import BpcliStep
    from bench.step_bench import LR, MOMENTUM, make_batch, make_weights

    case = case_named(case_name)
    step = BpcliStep(case, make_weights(case), *make_batch(case), lr=LR, momentum=MOMENTUM)
    buckets: dict[str, list] = {}
    for node in step.graph.nodes:
        layer = node.layer
        for what in ("forward", "backward"):
            key = f"{node.name:8s} {what}"
            buckets[key] = []
            setattr(layer, what, _timed(getattr(layer, what), buckets[key]))
    loss = step.model.loss_fn
    buckets["loss (softmax-CE)"] = []
    loss.loss = _timed(loss.loss, buckets["loss (softmax-CE)"])
    buckets["optimizer.step"] = []
    step.optimizer.step = _timed(step.optimizer.step, buckets["optimizer.step"])
    whole: list = []
    for _ in range(5):
        step()
    for b in buckets.values():
        b.clear()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        whole.append(time.perf_counter() - t0)

    print(f"\n== {case.name}: {case.note}  ({steps} steps, load {os.getloadavg()[0]:.2f})")
    total = 0.0
    for key, xs in buckets.items():
        m = _median_ms(xs)
        total += m
        print(f"  {key:28s} {m:8.3f} ms")
    print(f"  {'sum of pieces':28s} {total:8.3f} ms")
    print(f"  {'whole step (median)':28s} {_median_ms(whole):8.3f} ms")
    floor = gemm_floor(case, steps)
    torch_floor = torch_gemm_floor(case, steps)
    for name, m in floor.items():
        theirs = f"   torch {torch_floor[name]:8.3f} ms" if torch_floor else ""
        print(f"    floor {name:42s} {m:8.3f} ms{theirs}")
    theirs = f"   torch {sum(torch_floor.values()):8.3f} ms" if torch_floor else ""
    print(f"  {'GEMM floor (sum)':28s} {sum(floor.values()):8.3f} ms{' ' * 20}{theirs}")
    del np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", default=["mnist", "wide"])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=None, help="OPENBLAS_NUM_THREADS (set before NumPy loads)")
    args = p.parse_args()
    if args.threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    for name in args.cases:
        profile(name, args.steps)


if __name__ == "__main__":
    main()
