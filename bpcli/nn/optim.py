"""Optimizers (the OPTIMIZERS registry) and gradient clipping by global norm.

Every optimizer updates the live parameter arrays IN PLACE, keeps its state in buffers
allocated once (same shape and dtype as the parameter, so float32 stays float32), and
exposes that state as a flat dict of arrays for checkpoints. Defaults follow CS231n's optim.py.
`examples`: option sets the registry-wide tests check against the textbook update formula.
"""

from __future__ import annotations

import math
from typing import Collection, Dict

import numpy as np

from bpcli.registry import Registry

OPTIMIZERS = Registry("optimizer")

Arrays = Dict[str, np.ndarray]


def global_norm(grads: Arrays) -> float:
    """sqrt(sum over all arrays of sum(g**2)), accumulated in float64."""
    total = 0.0
    for g in grads.values():
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))
    return math.sqrt(total)


def clip_by_global_norm(grads: Arrays, max_norm: float) -> float:
    """Scale every gradient in place by min(1, max_norm / ||g||); return the norm before clipping."""
    norm = global_norm(grads)
    if norm > max_norm > 0:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= scale
    return norm


class Optimizer:
    """Base class: `step(grads)` updates `params` (name -> live array) in place.

    Subclasses name their per-parameter buffers in `buffers` and implement `update`.
    """

    buffers: tuple = ()
    examples: tuple = ()

    def __init__(self, params: Arrays, *, lr: float = 1e-2):
        self.params = params
        self.lr = float(lr)
        self.t = 0  # number of steps taken
        self.state: dict[str, Arrays] = {b: {k: np.zeros_like(p) for k, p in params.items()} for b in self.buffers}
        self._scratch = {k: np.empty_like(p) for k, p in params.items()}

    def step(self, grads: Arrays, skip: Collection[str] = ()) -> None:
        """One update of every parameter from its gradient (same keys as params), except the
        names in `skip`, whose update this step made elsewhere (bpcli/fast/fused_update.py)."""
        self.t += 1
        state = [self.state[b] for b in self.buffers]
        for name, p in self.params.items():
            if name not in skip:
                self.update(p, grads[name], self._scratch[name], *(buffers[name] for buffers in state))

    def update(self, p: np.ndarray, g: np.ndarray, tmp: np.ndarray, *state: np.ndarray) -> None:
        """Update p in place from g, with scratch tmp and this optimizer's buffers (in `buffers` order)."""
        raise NotImplementedError

    def state_dict(self) -> Arrays:
        """Flat arrays: 't', and '<buffer>/<param name>' for every buffer."""
        out: Arrays = {"t": np.array(self.t, dtype=np.int64)}
        for b, arrays in self.state.items():
            for k, a in arrays.items():
                out[f"{b}/{k}"] = a
        return out

    def load_state_dict(self, state: Arrays) -> None:
        """Copy a state_dict back into the preallocated buffers."""
        self.t = int(state["t"])
        for b, arrays in self.state.items():
            for k, a in arrays.items():
                np.copyto(a, state[f"{b}/{k}"])


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """w -= lr * dw"""

    examples = ({}, {"lr": 0.5})

    def __init__(self, params: Arrays, *, lr: float = 1e-2):
        super().__init__(params, lr=lr)

    def update(self, p, g, tmp):
        np.multiply(g, self.lr, out=tmp)
        p -= tmp


@OPTIMIZERS.register("momentum")
class Momentum(Optimizer):
    """v = mu * v - lr * dw;  w += v"""

    buffers = ("velocity",)
    examples = ({}, {"lr": 0.1, "momentum": 0.5})

    def __init__(self, params: Arrays, *, lr: float = 1e-2, momentum: float = 0.9):
        super().__init__(params, lr=lr)
        self.momentum = float(momentum)

    def update(self, p, g, tmp, v):
        v *= self.momentum
        np.multiply(g, self.lr, out=tmp)
        v -= tmp
        p += v


@OPTIMIZERS.register("nesterov")
class Nesterov(Momentum):
    """v_prev = v;  v = mu * v - lr * dw;  w += -mu * v_prev + (1 + mu) * v"""

    examples = ({}, {"lr": 0.1, "momentum": 0.5})

    def update(self, p, g, tmp, v):
        mu = self.momentum
        # w += -mu*v_prev + (1+mu)*(mu*v_prev - lr*g) = mu^2*v_prev - (1+mu)*lr*g
        np.multiply(v, -mu, out=tmp)
        p += tmp
        v *= mu
        np.multiply(g, self.lr, out=tmp)
        v -= tmp
        np.multiply(v, 1.0 + mu, out=tmp)
        p += tmp


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """cache = decay * cache + (1 - decay) * dw**2;  w -= lr * dw / (sqrt(cache) + eps)"""

    buffers = ("cache",)
    examples = ({}, {"lr": 0.05, "decay_rate": 0.9, "epsilon": 1e-3})

    def __init__(self, params: Arrays, *, lr: float = 1e-2, decay_rate: float = 0.99, epsilon: float = 1e-8):
        super().__init__(params, lr=lr)
        self.decay_rate = float(decay_rate)
        self.epsilon = float(epsilon)

    def update(self, p, g, tmp, cache):
        cache *= self.decay_rate
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.decay_rate
        cache += tmp
        np.sqrt(cache, out=tmp)
        tmp += self.epsilon
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """m = b1*m + (1-b1)*dw;  v = b2*v + (1-b2)*dw**2;  w -= lr * m_hat / (sqrt(v_hat) + eps),
    with m_hat = m / (1 - b1**t), v_hat = v / (1 - b2**t).

    The state holds the unnormalized sums M = m / (1-b1) and V = v / (1-b2) (buffers `m_sum`,
    `v_sum`): M = b1*M + dw and V = b2*V + dw**2 take 5 passes over memory instead of 7, and the
    constant factors fold into the step's scalars. Checkpoints with `m`/`v` still load."""

    buffers = ("m_sum", "v_sum")
    examples = ({}, {"lr": 0.1, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4})

    def __init__(
        self,
        params: Arrays,
        *,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ):
        super().__init__(params, lr=lr)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def decay_weights(self, p: np.ndarray) -> None:
        """Hook for AdamW's decoupled weight decay; plain Adam does nothing."""

    def update(self, p, g, tmp, M, V):
        b1, b2, t = self.beta1, self.beta2, self.t
        M *= b1
        M += g
        V *= b2
        np.multiply(g, g, out=tmp)
        V += tmp
        # lr * m_hat / (sqrt(v_hat) + eps) = M / (sqrt(V) * c + eps / s)
        # with s = lr * (1-b1) / (1-b1**t) and c = sqrt((1-b2) / (1-b2**t)) / s
        s = self.lr * (1.0 - b1) / (1.0 - b1**t)
        if s == 0.0:  # lr 0: the moments move, the weights do not
            return
        np.sqrt(V, out=tmp)
        tmp *= math.sqrt((1.0 - b2) / (1.0 - b2**t)) / s
        tmp += self.epsilon / s
        np.divide(M, tmp, out=tmp)
        self.decay_weights(p)
        p -= tmp

    def load_state_dict(self, state: Arrays) -> None:
        """As Optimizer's, also from a state with the normalized moments `m/...` and `v/...`."""
        if any(k.startswith("m/") for k in state) and not any(k.startswith("m_sum/") for k in state):
            state = dict(state)
            for k in list(state):
                for old, new, beta in (("m/", "m_sum/", self.beta1), ("v/", "v_sum/", self.beta2)):
                    if k.startswith(old):
                        state[new + k[len(old):]] = np.asarray(state.pop(k)) / (1.0 - beta)
        super().load_state_dict(state)


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay: w -= lr * wd * w, then the Adam step (applies to every parameter)."""

    examples = ({}, {"lr": 0.1, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4, "weight_decay": 0.5})

    def __init__(
        self,
        params: Arrays,
        *,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        super().__init__(params, lr=lr, beta1=beta1, beta2=beta2, epsilon=epsilon)
        self.weight_decay = float(weight_decay)

    def decay_weights(self, p: np.ndarray) -> None:
        p *= 1.0 - self.lr * self.weight_decay
