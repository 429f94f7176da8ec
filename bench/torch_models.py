"""The same models in PyTorch CPU (float32), with weights copied from the harness's arrays.

torch is optional: `pip install torch==2.13.0` (the CPU build). Import this module only after
checking `torch_available()`.
"""

from __future__ import annotations

import importlib.util
from typing import List, Tuple

import numpy as np

INSTALL_HINT = "install it with: pip install torch==2.13.0 (CPU build); only the comparison is skipped"


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def build_torch_model(case, weights: List[Tuple[np.ndarray, np.ndarray]]):
    """nn.Sequential of the case's ops; dense W given as (in, out), conv W as (F, C, k, k)."""
    import torch
    from torch import nn

    modules = []
    it = iter(weights)
    for op in case.ops:
        if op.kind == "dense":
            W, b = next(it)
            layer = nn.Linear(W.shape[0], W.shape[1])
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                layer.bias.copy_(torch.from_numpy(b))
            modules.append(layer)
        elif op.kind == "conv":
            W, b = next(it)
            layer = nn.Conv2d(W.shape[1], W.shape[0], op.kernel, padding=op.pad)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(W))
                layer.bias.copy_(torch.from_numpy(b))
            modules.append(layer)
        elif op.kind == "relu":
            modules.append(nn.ReLU())
        elif op.kind == "maxpool":
            modules.append(nn.MaxPool2d(2))
        elif op.kind == "flatten":
            modules.append(nn.Flatten())
        else:
            raise ValueError(f"no torch module for op '{op.kind}'")
    return nn.Sequential(*modules)


class TorchStep:
    """One training step in torch: zero_grad, forward, cross_entropy, backward, SGD momentum."""

    def __init__(self, case, weights, X: np.ndarray, y: np.ndarray, *, lr: float, momentum: float):
        import torch

        self.torch = torch
        self.model = build_torch_model(case, weights)
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(y.astype(np.int64))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)
        self.loss_fn = torch.nn.functional.cross_entropy

    def initial_loss(self) -> float:
        with self.torch.no_grad():
            return float(self.loss_fn(self.model(self.X), self.y))

    def __call__(self) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.X), self.y)
        loss.backward()
        self.opt.step()
        return loss


def torch_gemm_peak_gflops(n: int = 2048, repeats: int = 8) -> float:
    """Best float32 GFLOP/s of torch.mm on n x n matrices."""
    import time

    import torch

    a = torch.randn(n, n)
    b = torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9
