"""Normalization layers: batchnorm (over the batch) and layernorm (over each example)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

import numpy as np

from bpcli.errors import ShapeError
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import check_option, no_cache


@dataclass
class _NormCache:
    xhat: np.ndarray  # (x - mean) / sqrt(var + eps), x's shape
    inv_std: np.ndarray  # 1 / sqrt(var + eps), broadcastable to x


def _check_eps(layer: str, eps: float) -> None:
    check_option(eps > 0, layer, "eps", f"must be > 0, got {eps}")


def _normalize(x: np.ndarray, axes: tuple, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(xhat, inv_std, mean, var) with statistics over `axes` (keepdims)."""
    mean = x.mean(axis=axes, keepdims=True)
    xhat = x - mean
    var = np.mean(np.square(xhat), axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + x.dtype.type(eps))
    xhat *= inv_std
    return xhat, inv_std, mean, var


def _normalize_backward(dxhat: np.ndarray, cache: _NormCache, axes: tuple) -> np.ndarray:
    """dx for xhat = (x - mean(x)) · inv_std with mean and var over `axes`: inv_std · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat))."""
    xhat = cache.xhat
    mean_d = dxhat.mean(axis=axes, keepdims=True)
    mean_dx = np.mean(dxhat * xhat, axis=axes, keepdims=True)
    dx = xhat * mean_dx
    np.subtract(dxhat, dx, out=dx)
    dx -= mean_d
    dx *= cache.inv_std
    return dx


# How the running statistics that eval mode uses are kept (training always normalizes with the
# batch's own biased variance); momentum m: running = m · running + (1 - m) · batch statistic.
#   bpcli   running_var starts at 1, updated with the biased batch variance (1/n)
#   torch   running_var starts at 1, updated with the unbiased batch variance (1/(n - 1)),
#           as torch.nn.BatchNorm (whose momentum is bpcli's 1 - m)
#   cs231n  running_var starts at 0 (the assignments' np.zeros(D)), updated with the biased variance
RunningStats = Literal["bpcli", "torch", "cs231n"]


@LAYERS.register("batchnorm")
class BatchNorm(Layer):
    """out = gamma · (x - mean_B) / sqrt(var_B + eps) + beta per feature (axis 1), x (N, D) or (N, C, H, W), gamma/beta (D,) or (C,)."""

    examples = (({}, (4,)), ({"momentum": 0.8}, (2, 3, 3)), ({"eps": 1e-3}, (3,)),
                ({"running_stats": "torch"}, (2, 2, 2)), ({"running_stats": "cs231n"}, (3,)))

    def __init__(self, *, momentum: float = 0.9, eps: float = 1e-5, running_stats: RunningStats = "bpcli"):
        super().__init__()
        check_option(0.0 <= momentum < 1.0, "batchnorm", "momentum", f"must be in [0, 1), got {momentum}")
        _check_eps("batchnorm", eps)
        self.momentum = momentum
        self.eps = eps
        self.running_stats = running_stats
        self._cache: Optional[_NormCache] = None

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        if len(input_shape) not in (1, 3):
            raise ShapeError(f"batchnorm needs (D,) or (C, H, W) per example, got shape {tuple(input_shape)}")
        channels = input_shape[0]
        self.params["gamma"] = np.ones(channels, dtype=dtype)
        self.params["beta"] = np.zeros(channels, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers["running_mean"] = np.zeros(channels, dtype=dtype)
        start = 0.0 if self.running_stats == "cs231n" else 1.0
        self.buffers["running_var"] = np.full(channels, start, dtype=dtype)
        return input_shape

    @staticmethod
    def _axes(x: np.ndarray) -> tuple:
        return (0,) + tuple(range(2, x.ndim))

    @staticmethod
    def _per_channel(v: np.ndarray, x: np.ndarray) -> np.ndarray:
        return v.reshape((1, -1) + (1,) * (x.ndim - 2))

    def forward(self, x: np.ndarray) -> np.ndarray:
        gamma = self._per_channel(self.params["gamma"], x)
        beta = self._per_channel(self.params["beta"], x)
        if not self.training:  # the running statistics, constants: nothing to cache
            mean = self._per_channel(self.buffers["running_mean"], x)
            inv_std = 1.0 / np.sqrt(self._per_channel(self.buffers["running_var"], x) + x.dtype.type(self.eps))
            xhat = x - mean
            xhat *= inv_std
            self._cache = None
        else:
            xhat, inv_std, mean, var = _normalize(x, self._axes(x), self.eps)
            if self.running_stats == "torch":  # torch keeps the unbiased variance: · n / (n - 1)
                n = x.size // x.shape[1]
                var = var * (n / max(n - 1, 1))
            m = x.dtype.type(self.momentum)
            for key, batch in (("running_mean", mean), ("running_var", var)):
                running = self.buffers[key]
                running *= m
                running += (1 - m) * batch.reshape(-1).astype(running.dtype, copy=False)
            self._cache = _NormCache(xhat, inv_std)
        out = xhat * gamma
        out += beta
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        axes = self._axes(dout)
        self.grads["beta"] = dout.sum(axis=axes)
        self.grads["gamma"] = np.sum(dout * cache.xhat, axis=axes)
        dxhat = dout * self._per_channel(self.params["gamma"], dout)
        return _normalize_backward(dxhat, cache, axes)


@LAYERS.register("layernorm")
class LayerNorm(Layer):
    """out = gamma · (x - mean_x) / sqrt(var_x + eps) + beta over each example's entries, x (N, ...), gamma/beta of x's per-example shape."""

    examples = (({}, (5,)), ({"eps": 1e-3}, (2, 3, 3)))

    def __init__(self, *, eps: float = 1e-5):
        super().__init__()
        _check_eps("layernorm", eps)
        self.eps = eps
        self._cache: Optional[_NormCache] = None

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        self.params["gamma"] = np.ones(input_shape, dtype=dtype)
        self.params["beta"] = np.zeros(input_shape, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return input_shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        xhat, inv_std, _, _ = _normalize(x, tuple(range(1, x.ndim)), self.eps)
        self._cache = _NormCache(xhat, inv_std) if self.training else None
        out = xhat * self.params["gamma"]
        out += self.params["beta"]
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        self.grads["beta"] = dout.sum(axis=0)
        self.grads["gamma"] = np.sum(dout * cache.xhat, axis=0)
        dxhat = dout * self.params["gamma"]
        return _normalize_backward(dxhat, cache, tuple(range(1, dout.ndim)))
