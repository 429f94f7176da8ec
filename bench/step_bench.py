"""Training-step benchmark: bpcli, PyTorch CPU and a hand-written NumPy MLP, interleaved."""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import numpy as np

from bench.cases import Case, numpy_reference_supported, train_step_flops, walk_shapes
from bench.timing import interleaved
from bpcli.host.heap_reuse import reuse_freed_memory

# A small learning rate keeps every side computing on healthy numbers for thousands of steps on
# one fixed batch: with lr=0.01 the nets memorize the batch within ~100 steps, softmax
# probabilities underflow into float32 denormals and the step times then measure the CPU's
# denormal penalty instead of the code. The work per step does not depend on the lr.
LR = 1e-5
MOMENTUM = 0.9


def _loss_value(out) -> float:
    """A step's returned loss as a float (a float, a 0-d tensor, or bpcli's LossParts)."""
    out = getattr(out, "total", out)
    return float(out.item() if hasattr(out, "item") else out)


def make_weights(case: Case, seed: int = 0) -> List[Tuple[np.ndarray, np.ndarray]]:
    """He-initialized float32 weights for every dense (in, out) and conv (F, C, k, k) layer; zero biases."""
    rng = np.random.default_rng(seed)
    weights = []
    shape = tuple(case.input_shape)
    for op, out_shape in zip(case.ops, walk_shapes(case).shapes):
        if op.kind == "dense":
            fan_in = int(np.prod(shape))
            W = rng.standard_normal((fan_in, op.size)) * np.sqrt(2.0 / fan_in)
            weights.append((W.astype(np.float32), np.zeros(op.size, np.float32)))
        elif op.kind == "conv":
            c = shape[0]
            fan_in = c * op.kernel * op.kernel
            W = rng.standard_normal((op.size, c, op.kernel, op.kernel)) * np.sqrt(2.0 / fan_in)
            weights.append((W.astype(np.float32), np.zeros(op.size, np.float32)))
        shape = out_shape
    return weights


def make_batch(case: Case, seed: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """A fixed float32 batch (standard normal inputs) with random class labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((case.batch, *case.input_shape)).astype(np.float32)
    y = rng.integers(0, case.n_classes, size=case.batch).astype(np.int64)
    return X, y


def _side_row(status: str, **extra) -> dict:
    return {"status": status, **extra}


def build_sides(case: Case, *, use_torch: bool) -> Tuple[Dict[str, Callable], Dict[str, dict]]:
    """Step callables for every side that can run, and a row per side (status, initial loss)."""
    from bench.bpcli_side import BpcliStep, NotAvailable
    from bench.numpy_reference import NumpyMLP

    weights = make_weights(case)
    X, y = make_batch(case)
    steps: Dict[str, Callable] = {}
    rows: Dict[str, dict] = {}

    try:
        bp = BpcliStep(case, weights, X, y, lr=LR, momentum=MOMENTUM)
        rows["bpcli"] = _side_row("ok", initial_loss=bp.initial_loss())
        steps["bpcli"] = bp
    except NotAvailable as err:
        rows["bpcli"] = _side_row("not available yet", reason=str(err))
    except Exception as err:  # noqa: BLE001 - a half-landed module must not stop the benchmark
        rows["bpcli"] = _side_row("error", reason=f"{type(err).__name__}: {err}")

    if use_torch:
        from bench.torch_models import TorchStep

        ts = TorchStep(case, weights, X, y, lr=LR, momentum=MOMENTUM)
        rows["torch"] = _side_row("ok", initial_loss=ts.initial_loss())
        steps["torch"] = ts
    else:
        rows["torch"] = _side_row("skipped", reason="torch not used (not installed, or --no-torch / --smoke)")

    why_not = numpy_reference_supported(case)
    if why_not is None:
        Ws = [W for W, _ in weights]
        bs = [b for _, b in weights]
        ref = NumpyMLP(Ws, bs, lr=LR, momentum=MOMENTUM)
        rows["numpy"] = _side_row("ok", initial_loss=ref.loss_and_grads(X, y)[0])
        steps["numpy"] = lambda: ref.step(X, y)
    else:
        rows["numpy"] = _side_row("n/a", reason=why_not)
    return steps, rows


def bench_case(case: Case, *, use_torch: bool, budget_s: float, min_steps: int) -> dict:
    """Time one case on every available side; ratios against torch; GFLOP/s from the issue's count."""
    steps, rows = build_sides(case, use_torch=use_torch)
    flops = train_step_flops(case)
    if steps:
        reuse_freed_memory()  # as `bpcli train` does; process-wide, so every side gets it
        stats = interleaved(steps, budget_s=budget_s, min_steps=min_steps)
        for name, st in stats.items():
            rows[name].update(st.to_dict())
            rows[name]["final_loss"] = _loss_value(steps[name]())
            rows[name]["gflops"] = flops / st.median / 1e9
    result = {
        "name": case.name,
        "description": case.note,
        "batch": case.batch,
        "flops_per_step": flops,
        "target_ratio": case.target,
        "sides": rows,
    }
    torch_t = rows.get("torch", {}).get("median_s")
    for side in ("bpcli", "numpy"):
        t = rows.get(side, {}).get("median_s")
        ratio = t / torch_t if (t and torch_t) else None
        result[f"ratio_{side}_torch"] = ratio
    ratio = result["ratio_bpcli_torch"]
    result["meets_target"] = None if ratio is None else bool(ratio <= case.target)
    return result
