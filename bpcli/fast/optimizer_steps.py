"""Faster twins of optimizer steps: the same update as the optimizer's own `step`, on the same
state buffers (checkpoints do not change), in fewer passes over memory.

adam, adamw: the reference (bpcli/nn/optim.py) takes 10 passes per parameter. Here
    M = 1·g + b1·M and V = 1·g² + b2·V are one BLAS axpby each (NumPy takes two), and the
    reference's denominator sqrt(V)·r/s + eps/s, with s = lr·(1-b1)/(1-b1^t) and
    r = sqrt((1-b2)/(1-b2^t)), is factored as (r/s)·(sqrt(V) + eps/r), so that
    w -= M / denominator becomes w += -(s/r) · M / (sqrt(V) + eps/r): the scale rides on the
    final axpy. 7 passes; equal to the reference up to float rounding (tests/test_fast_twins.py).
    The square root and the division are most of what is left (measured on 784×256 float32:
    sqrt 70 µs, divide 22 µs, an add 26 µs).
"""

from __future__ import annotations

import math
from typing import Callable, Collection, Dict

import numpy as np

from bpcli.host.blas import axpby, axpy
from bpcli.nn.optim import Adam, AdamW, Optimizer

Arrays = Dict[str, np.ndarray]
Step = Callable[[Arrays, Collection[str]], None]


def _adam_step(opt: Adam, grads: Arrays, skip: Collection[str] = ()) -> None:
    """Adam.step (and AdamW's, whose decay_weights hook runs where the reference runs it)."""
    opt.t += 1
    b1, b2, t = opt.beta1, opt.beta2, opt.t
    s = opt.lr * (1.0 - b1) / (1.0 - b1**t)
    r = math.sqrt((1.0 - b2) / (1.0 - b2**t))
    shift, scale = opt.epsilon / r, -s / r
    m_sums, v_sums, scratch = opt.state["m_sum"], opt.state["v_sum"], opt._scratch
    for name, p in opt.params.items():
        if name in skip:
            continue
        g, M, V, tmp = grads[name], m_sums[name], v_sums[name], scratch[name]
        axpby(1.0, g, b1, M)
        np.multiply(g, g, out=tmp)
        axpby(1.0, tmp, b2, V)
        if s == 0.0:  # lr 0: the moments move, the weights do not (as the reference)
            continue
        np.sqrt(V, out=tmp)
        tmp += tmp.dtype.type(shift)
        np.divide(M, tmp, out=tmp)
        opt.decay_weights(p)
        axpy(scale, tmp, p)


FAST_STEPS: dict[type, Callable[..., None]] = {Adam: _adam_step, AdamW: _adam_step}


def fast_step(optimizer: Optimizer) -> Step:
    """`step(grads, skip)` for this optimizer: its fast twin when its exact class has one (a
    subclass may change the update), else the optimizer's own step."""
    twin = FAST_STEPS.get(type(optimizer))
    if twin is None:
        return optimizer.step
    return lambda grads, skip=(): twin(optimizer, grads, skip)
