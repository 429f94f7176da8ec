"""Pictures of a run: loss/accuracy curves and a 2-D decision boundary, as terminal text
(Rich colours on a terminal, plain characters otherwise) or as a PNG through matplotlib.

Nothing here computes anything about the model: the decision surface arrives as a grid of
predicted classes (bpcli.runs.surface.decision_surface).
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

from rich.text import Text

CLASS_COLORS = ["red", "green", "blue", "magenta", "cyan", "yellow", "bright_red", "bright_green", "bright_blue", "white"]
REGION_CHARS = ".-~:+=^'\"`"
POINT_CHARS = "0123456789"
SERIES_MARKS = "*o+x#"

PLOT_EXTRA_HINT = "--plot needs matplotlib: pip install 'bpcli[plot]' (or pip install matplotlib)"


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def check_plot_path(path) -> None:
    """Before training: a UsageError unless matplotlib can write `path` (its suffix is a format
    matplotlib supports and its directory exists and is writable)."""
    import os
    from pathlib import Path

    from matplotlib.backend_bases import FigureCanvasBase

    from bpcli.errors import UsageError

    path = Path(path)
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise UsageError(f"--plot {path}: unknown image format '{path.suffix or '(none)'}'; "
                         f"use one of: {', '.join('.' + f for f in formats)} (e.g. curves.png)")
    if path.is_dir():
        raise UsageError(f"--plot {path} is a directory; give a file name, e.g. {path / 'curves.png'}")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"--plot {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--plot {path}: cannot write in {parent} (permission denied)")


def _finite(values: Sequence[Optional[float]]) -> List[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def line_chart(series: Dict[str, Sequence[Optional[float]]], *, title: str, width: int = 60, height: int = 10, color: bool = True) -> Text:
    """Curves over epochs on a character grid; each series gets its own mark (and colour)."""
    series = {k: list(v) for k, v in series.items() if _finite(v)}
    if not series:
        return Text(f"{title}: nothing to plot")
    n = max(len(v) for v in series.values())
    values = [x for v in series.values() for x in _finite(v)]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        hi = lo + 1.0
    cols = max(min(width, n), 2)
    grid: List[List[Optional[int]]] = [[None] * cols for _ in range(height)]
    for s, values_ in enumerate(series.values()):
        for c in range(cols):
            i = min(round(c * (n - 1) / (cols - 1)), len(values_) - 1)
            v = values_[i]
            if v is None or not math.isfinite(v):
                continue
            r = height - 1 - round((v - lo) / (hi - lo) * (height - 1))
            grid[r][c] = s
    styles = ["cyan", "yellow", "magenta", "green", "red"]
    label_width = max(len(f"{hi:.4g}"), len(f"{lo:.4g}"))
    out = Text()
    legend = "   ".join(f"{SERIES_MARKS[i % len(SERIES_MARKS)]} {name}" for i, name in enumerate(series))
    out.append(f"{title}   {legend}\n", style="bold" if color else "")
    for r, row in enumerate(grid):
        label = f"{hi:.4g}" if r == 0 else f"{lo:.4g}" if r == height - 1 else ""
        out.append(f"{label:>{label_width}} |")
        for cell in row:
            if cell is None:
                out.append(" ")
            else:
                out.append(SERIES_MARKS[cell % len(SERIES_MARKS)], style=styles[cell % len(styles)] if color else "")
        out.append("\n")
    out.append(" " * label_width + " +" + "-" * cols + "\n")
    out.append(" " * label_width + f"  epoch 1{' ' * max(cols - 8 - len(str(n)), 1)}{n}")
    return out


def decision_boundary(surface, X, y, *, color: bool = True) -> Text:
    """The predicted class of every cell (background) with the training points drawn over it."""
    grid = surface.classes  # (rows, cols), row 0 = top (largest x2)
    rows, cols = grid.shape
    points: Dict[tuple, int] = {}
    for (x1, x2), label in zip(X, y):
        c = int((x1 - surface.x_min) / (surface.x_max - surface.x_min) * (cols - 1) + 0.5)
        r = int((surface.y_max - x2) / (surface.y_max - surface.y_min) * (rows - 1) + 0.5)
        if 0 <= r < rows and 0 <= c < cols:
            points[(r, c)] = int(label)
    out = Text()
    out.append("decision boundary (regions: predicted class; digits: training points by true class)\n",
               style="bold" if color else "")
    for r in range(rows):
        for c in range(cols):
            region = int(grid[r, c])
            label = points.get((r, c))
            if color:
                bg = f"on {CLASS_COLORS[region % len(CLASS_COLORS)]}"
                if label is None:
                    out.append(" ", style=f"dim {bg}")
                else:
                    out.append("●", style=f"bold white {bg}" if label == region else f"bold black {bg}")
            else:
                out.append(REGION_CHARS[region % len(REGION_CHARS)] if label is None else POINT_CHARS[label % 10])
        out.append("\n")
    if not color:
        key = ", ".join(f"'{REGION_CHARS[k % len(REGION_CHARS)]}' = class {k}" for k in range(int(grid.max()) + 1))
        out.append(f"regions: {key}")
    return out


def save_png(path, history: List[dict], surface=None, X=None, y=None) -> None:
    """The curves (and the decision boundary for 2-D data) as one PNG figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if surface is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    epochs = [h["epoch"] for h in history]
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for split in ("train", "val"):
            values = [h.get(f"{split}_{metric}") for h in history]
            pairs = [(e, v) for e, v in zip(epochs, values) if v is not None]
            if pairs:
                ax.plot(*zip(*pairs), label=split)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    if surface is not None:
        ax = axes[2]
        ax.imshow(surface.classes, extent=(surface.x_min, surface.x_max, surface.y_min, surface.y_max),
                  cmap="Spectral", alpha=0.35, aspect="auto")
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="Spectral", s=12, edgecolors="k", linewidths=0.3)
        ax.set_title("decision boundary")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
