"""Group normalization (Wu & He 2018): each example's channels in G groups, each group normalized
over its channels (and their positions); then a per-channel scale and shift.

`groupnorm` takes (C,) or (C, ...) per example, `spatial_groupnorm` is CS231n's name for the
(C, H, W) form used after convolutions. G = 1 is layernorm over everything; G = C normalizes
each channel of each example alone (instance norm).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bpcli.errors import ShapeError
from bpcli.nn.layer import LAYERS, Layer
from bpcli.nn.layers._common import check_option, need_rank, no_cache
from bpcli.nn.layers.norm import _NormCache, _normalize, _normalize_backward


@LAYERS.register("groupnorm")
class GroupNorm(Layer):
    """out[n, c] = gamma[c] · (x[n, c] - mean_g) / sqrt(var_g + eps) + beta[c], statistics over c's group of C/G channels (all positions) in example n: x (N, C, ...), gamma/beta (C,)."""

    examples = (({"groups": 2}, (6,)), ({"groups": 1}, (4,)), ({"groups": 2}, (4, 3, 3)), ({"groups": 3, "eps": 1e-3}, (3, 2, 2)))

    def __init__(self, *, groups: int = 1, eps: float = 1e-5):
        super().__init__()
        name = type(self).registered_name
        check_option(groups >= 1, name, "groups", f"must be >= 1, got {groups}")
        check_option(eps > 0, name, "eps", f"must be > 0, got {eps}")
        self.groups = groups
        self.eps = eps
        self._cache: Optional[_NormCache] = None

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        channels = input_shape[0] if input_shape else 0
        if channels % self.groups:
            raise ShapeError(
                f"{type(self).registered_name}: {channels} channels do not split into {self.groups} groups "
                f"(input shape {tuple(input_shape)}); groups must divide the channel count"
            )
        self.params["gamma"] = np.ones(channels, dtype=dtype)
        self.params["beta"] = np.zeros(channels, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return input_shape

    def _per_channel(self, v: np.ndarray, x: np.ndarray) -> np.ndarray:
        return v.reshape((1, -1) + (1,) * (x.ndim - 2))

    def forward(self, x: np.ndarray) -> np.ndarray:
        grouped = x.reshape(x.shape[0], self.groups, -1)  # (N, G, C/G · positions)
        xhat, inv_std, _, _ = _normalize(grouped, (2,), self.eps)
        self._cache = _NormCache(xhat, inv_std) if self.training else None
        out = xhat.reshape(x.shape) * self._per_channel(self.params["gamma"], x)
        out += self._per_channel(self.params["beta"], x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache = self._cache
        if cache is None:
            raise no_cache(self)
        axes = (0,) + tuple(range(2, dout.ndim))  # everything but the channel axis
        xhat = cache.xhat.reshape(dout.shape)
        self.grads["beta"] = dout.sum(axis=axes)
        self.grads["gamma"] = np.sum(dout * xhat, axis=axes)
        dxhat = dout * self._per_channel(self.params["gamma"], dout)
        dx = _normalize_backward(dxhat.reshape(cache.xhat.shape), cache, (2,))
        return dx.reshape(dout.shape)


@LAYERS.register("spatial_groupnorm")
class SpatialGroupNorm(GroupNorm):
    """groupnorm on (N, C, H, W) (CS231n's spatial_groupnorm): groups of C/G channels over all H·W positions."""

    examples = (({"groups": 2}, (4, 3, 3)), ({"groups": 1}, (2, 2, 3)), ({"groups": 3}, (6, 2, 2)))

    def build(self, input_shape: tuple, rng: np.random.Generator, dtype: Any) -> tuple:
        need_rank("spatial_groupnorm", input_shape, 3, "(C, H, W)")
        return super().build(input_shape, rng, dtype)
