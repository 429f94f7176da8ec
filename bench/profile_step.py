"""Where a bpcli training step spends its time: every layer's forward and backward, the loss,
the optimizer update, against the whole step and the GEMM floor (the step's GEMMs alone; the
same GEMMs in torch too when it is installed).

    python bench/profile_step.py                 # mnist and wide
    python bench/profile_step.py wide --threads 1
    python bench/profile_step.py conv4 --threads 1 --steps 30

A convnet that `bpcli train` splits into two slices of the batch on two threads
(bpcli/fast/batch_split.py) is profiled whole here, on BLAS's threads, so that every piece is
seen once; the step as training runs it (split, one worker per BLAS thread) is timed beside it.

Each piece is timed with perf_counter around the real call inside real steps (medians over
steps); for the conv layers the "gemm" column is the part of that time spent inside their BLAS
products (cblas calls and np.matmul), the rest being copies and elementwise passes. "floor"
times the same GEMMs the step needs as bare np.matmul into preallocated buffers (a conv as its
im2col products), and torch's whole step is timed too when it is installed. Numbers only mean
something on a quiet machine: the load average is printed.
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


def _timed(fn, bucket: list, gemm_bucket: list, clock):
    def wrapper(*a, **k):
        g0 = clock.seconds
        t0 = time.perf_counter()
        out = fn(*a, **k)
        bucket.append(time.perf_counter() - t0)
        gemm_bucket.append(clock.seconds - g0)
        return out

    return wrapper


def _median_ms(xs) -> float:
    return 1e3 * statistics.median(xs) if xs else float("nan")


def _gemm_shapes(case) -> list:
    """(rows, fan_in, fan_out) of every dense and conv layer's GEMM: a conv as its im2col product
    (N·Ho·Wo, k·k·C) @ (k·k·C, F), a dense layer as (N, D) @ (D, units)."""
    from bench.cases import walk_shapes

    n, shape, dims = case.batch, tuple(case.input_shape), []
    for op, out_shape in zip(case.ops, walk_shapes(case).shapes):
        if op.kind == "dense":
            dims.append((n, int(math.prod(shape)), op.size))
        elif op.kind == "conv":
            dims.append((n * out_shape[1] * out_shape[2], shape[0] * op.kernel**2, op.size))
        shape = out_shape
    return dims


def _gemm_pieces(case, mm, randn, empty) -> dict:
    """The step's GEMMs as closures over preallocated operands, by name: forward, dW, and dx
    except for the first layer. mm(a, b, out), randn(shape), empty(shape) come from NumPy or torch."""
    pieces = {}
    for i, (n, d_in, d_out) in enumerate(_gemm_shapes(case)):
        x, W, g = randn((n, d_in)), randn((d_in, d_out)), randn((n, d_out))
        out, dW, dx = empty((n, d_out)), empty((d_in, d_out)), empty((n, d_in))
        pieces[f"L{i} fwd  x@W    ({n}x{d_in} @ {d_in}x{d_out})"] = lambda x=x, W=W, out=out: mm(x, W, out)
        pieces[f"L{i} dW   x.T@g  ({d_in}x{n} @ {n}x{d_out})"] = lambda x=x, g=g, dW=dW: mm(x.T, g, dW)
        if i:
            pieces[f"L{i} dx   g@W.T  ({n}x{d_out} @ {d_out}x{d_in})"] = lambda g=g, W=W, dx=dx: mm(g, W.T, dx)
    return pieces


class _GemmClock:
    """Seconds spent inside the fast conv layers' BLAS products: wraps `gemm` and `np.matmul` as
    bpcli/fast/conv.py sees them (its module globals only; NumPy itself is left alone)."""

    def __init__(self):
        import types

        import numpy as np

        import bpcli.fast.conv as conv

        self.seconds = 0.0
        clock = self

        def timed(fn):
            def wrapper(*a, **k):
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    clock.seconds += time.perf_counter() - t0

            return wrapper

        proxy = types.SimpleNamespace(**{name: getattr(np, name) for name in dir(np) if not name.startswith("__")})
        proxy.matmul = timed(np.matmul)
        conv.gemm = timed(conv.gemm)
        conv.np = proxy


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


def _torch_step_ms(case, weights, batch, steps: int):
    """Median ms of torch's training step on the same case (as many threads as NumPy's BLAS), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    from bench.step_bench import LR, MOMENTUM
    from bench.torch_models import TorchStep
    from bpcli.host.blas_threads import blas_threads

    torch.set_num_threads(blas_threads() or os.cpu_count() or 1)
    return _median_of(TorchStep(case, weights, *batch, lr=LR, momentum=MOMENTUM), steps)


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
    weights, batch = make_weights(case), make_batch(case)
    from bpcli.fast.train_step import TrainStep

    as_trained = BpcliStep(case, weights, *batch, lr=LR, momentum=MOMENTUM)
    trained_ms = _median_of(as_trained, steps) if as_trained.train_step.workers else None
    clock = _GemmClock()
    step = BpcliStep(case, weights, *batch, lr=LR, momentum=MOMENTUM)
    step.train_step = TrainStep(step.model, step.optimizer, split=False)  # every piece in this thread
    buckets: dict[str, tuple] = {}

    def timed(key, fn):
        buckets[key] = ([], [])
        return _timed(fn, *buckets[key], clock)

    for node in step.graph.nodes:
        layer = node.layer
        for what in ("forward", "backward"):
            setattr(layer, what, timed(f"{node.name:8s} {what}", getattr(layer, what)))
    loss = step.model.loss_fn
    loss.loss = timed("loss (softmax-CE)", loss.loss)
    step.optimizer.step = timed("optimizer.step", step.optimizer.step)
    whole: list = []
    for _ in range(5):
        step()
    for b in buckets.values():
        b[0].clear(), b[1].clear()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        whole.append(time.perf_counter() - t0)

    print(f"\n== {case.name}: {case.note}  ({steps} steps, load {os.getloadavg()[0]:.2f})")
    print(f"  {'piece':28s} {'total':>8s}    {'conv gemm':>9s}")
    total = gemms = 0.0
    for key, (xs, gs) in buckets.items():
        if not xs:  # e.g. optimizer.step when the whole update is fused into backward
            continue
        m, g = _median_ms(xs), _median_ms(gs)
        total, gemms = total + m, gemms + g
        print(f"  {key:28s} {m:8.3f} ms {g:8.3f} ms" if g else f"  {key:28s} {m:8.3f} ms")
    print(f"  {'sum of pieces':28s} {total:8.3f} ms {gemms:8.3f} ms")
    print(f"  {'whole step (median)':28s} {_median_ms(whole):8.3f} ms")
    if trained_ms is not None:
        print(f"  {'step as trained (split)':28s} {trained_ms:8.3f} ms   ({as_trained.train_step.workers} worker(s))")
    torch_step = _torch_step_ms(case, weights, batch, steps)
    if torch_step is not None:
        print(f"  {'torch whole step (median)':28s} {torch_step:8.3f} ms")
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
