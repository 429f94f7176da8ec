"""The decision surface of a 2-D classifier: the predicted class on a grid (the data behind
the terminal and PNG pictures in bpcli/render/plots.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class DecisionSurface:
    """Predicted class on a rows x cols grid over the data's box; row 0 is the top (largest x2)."""

    classes: np.ndarray
    x_min: float
    x_max: float
    y_min: float
    y_max: float
    n_classes: int = 2  # classes the model can predict (its score columns), predicted or not


def decision_surface(model, X: np.ndarray, cols: int = 64, rows: int = 28, margin: float = 0.1) -> Optional[DecisionSurface]:
    """Classify every cell centre of a grid around 2-D inputs X; None unless X is (N, 2)."""
    if X is None or X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        return None
    lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    pad = (hi - lo) * margin + 1e-6
    lo, hi = lo - pad, hi + pad
    xs = np.linspace(lo[0], hi[0], cols)
    ys = np.linspace(hi[1], lo[1], rows)
    gx, gy = np.meshgrid(xs, ys)
    points = np.ascontiguousarray(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=model.graph.dtype)
    scores = model.scores(points)
    if scores.ndim == 2 and scores.shape[1] > 1:
        classes, n_classes = scores.argmax(axis=1), scores.shape[1]
    else:
        classes, n_classes = (scores.reshape(-1) > 0).astype(np.int64), 2
    return DecisionSurface(classes.reshape(rows, cols), float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), n_classes)
