"""A plain hand-written NumPy MLP training step (CS231n style): the second reference.

No framework: weights in lists, forward with relu, fused softmax cross-entropy backward,
momentum update. Written the way a careful student would, not tuned: it is the baseline a
framework has to beat.
"""

from __future__ import annotations

from typing import List

import numpy as np


class NumpyMLP:
    """Dense layers Ws[i] (D_i, D_{i+1}) and bs[i] (D_{i+1},), relu between them."""

    def __init__(self, Ws: List[np.ndarray], bs: List[np.ndarray], *, lr: float, momentum: float):
        self.Ws = [np.ascontiguousarray(W, dtype=np.float32) for W in Ws]
        self.bs = [np.ascontiguousarray(b, dtype=np.float32) for b in bs]
        self.vW = [np.zeros_like(W) for W in self.Ws]
        self.vb = [np.zeros_like(b) for b in self.bs]
        self.lr, self.mu = lr, momentum

    def loss_and_grads(self, X: np.ndarray, y: np.ndarray):
        """Mean softmax cross-entropy over the batch, and dW, db for every layer."""
        acts = [X]
        h = X
        last = len(self.Ws) - 1
        for i, (W, b) in enumerate(zip(self.Ws, self.bs)):
            h = h @ W + b
            if i < last:
                h = np.maximum(h, 0)
            acts.append(h)
        scores = acts[-1]
        shifted = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probs = exp / exp.sum(axis=1, keepdims=True)
        n = X.shape[0]
        loss = -np.log(probs[np.arange(n), y]).mean()
        dh = probs
        dh[np.arange(n), y] -= 1
        dh /= n
        dWs: List[np.ndarray] = [None] * len(self.Ws)  # type: ignore[list-item]
        dbs: List[np.ndarray] = [None] * len(self.Ws)  # type: ignore[list-item]
        for i in range(last, -1, -1):
            dWs[i] = acts[i].T @ dh
            dbs[i] = dh.sum(axis=0)
            if i > 0:
                dh = dh @ self.Ws[i].T
                dh[acts[i] <= 0] = 0
        return float(loss), dWs, dbs

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One training step: forward, backward, momentum update (v = mu v - lr g; w += v)."""
        loss, dWs, dbs = self.loss_and_grads(X, y)
        for p, v, g in zip(self.Ws + self.bs, self.vW + self.vb, dWs + dbs):
            v *= self.mu
            v -= self.lr * g
            p += v
        return loss
