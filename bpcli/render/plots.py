"""Pictures of a run: loss/accuracy curves and a 2-D decision boundary, as terminal text
(Rich colours on a terminal, characters that carry the meaning without colour) or as one
16:9 image through matplotlib.

Nothing here computes anything about the model: the decision surface arrives as a grid of
predicted classes (bpcli.trained.surface.decision_surface).

Classes keep one colour everywhere (CLASS_COLORS, the Okabe-Ito palette, safe for colour-blind
readers), and in the terminal also one region character and one point glyph each.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

from rich.text import Text

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency
CLASS_COLORS = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
                "#999999", "#000000", "#882255"]
REGION_CHARS = ".-:=+~^'\"`"  # background of each predicted class
POINT_CHARS = "0123456789"  # a training point, by its true class
MARKERS = "os^Dv<>pP*"  # PNG point marker of each class
SERIES_MARKS = "*o"  # terminal glyph of the first and second series
SERIES_STYLES = ["#56B4E9", "#E69F00"]
BOTH_MARK = "@"  # both series in one character cell
SERIES_COLORS = ["#0072B2", "#D55E00"]  # PNG lines: train, val

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


def _interpolate(values: Sequence[Optional[float]], t: float) -> Optional[float]:
    """The series at fractional index t (linear between neighbours; None at a gap)."""
    i = int(math.floor(t))
    if i >= len(values) - 1:
        return values[-1] if len(values) - 1 == round(t) else None
    a, b = values[i], values[i + 1]
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        near = values[round(t)]
        return near if near is not None and math.isfinite(near) else None
    return a + (b - a) * (t - i)


def _epoch_axis(n: int, cols: int) -> str:
    """Whole-epoch tick labels under a chart of `cols` columns spanning epochs 1..n."""
    line = [" "] * (cols + 8)
    last_end = -2
    steps = [k * 10**e for e in range(8) for k in (1, 2, 5)]
    every = next(step for step in steps if n / step <= max(cols // 6, 1))
    epochs = sorted(set(list(range(1, n + 1, every)) + [n]))
    def column(epoch: int) -> int:
        return 0 if n == 1 else round((epoch - 1) * (cols - 1) / (n - 1))

    last_start = min(column(n), cols - len(str(n)))  # the last epoch is always labelled
    line[last_start:last_start + len(str(n))] = str(n)
    for epoch in epochs[:-1]:
        text, start = str(epoch), column(epoch)
        if start <= last_end + 1 or start + len(text) + 1 >= last_start:
            continue
        line[start:start + len(text)] = text
        last_end = start + len(text) - 1
    return "".join(line).rstrip()


def line_chart(
    series: Dict[str, Sequence[Optional[float]]],
    *,
    title: str,
    width: int = 80,
    height: int = 10,
    color: bool = True,
    finals: Optional[Dict[str, Optional[float]]] = None,
) -> Text:
    """Curves over epochs on a character grid `width` columns wide (axis labels included).

    Each series has its own glyph and colour, a cell both pass through shows BOTH_MARK, and
    `finals` (the value after training, where it differs from the last epoch's mean) are
    written under the chart, named as such."""
    series = {k: list(v) for k, v in series.items() if _finite(v)}
    if not series:
        return Text(f"{title}: nothing to plot")
    n = max(len(v) for v in series.values())
    values = [x for v in series.values() for x in _finite(v)]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        hi = lo + 1.0
    labels = [f"{hi:.4g}", f"{(hi + lo) / 2:.4g}", f"{lo:.4g}"]
    label_width = max(len(t) for t in labels)
    cols = max(width - label_width - 3, 10)
    grid: List[List[set]] = [[set() for _ in range(cols)] for _ in range(height)]
    for s, values_ in enumerate(series.values()):
        values_ = values_ + [None] * (n - len(values_))
        for c in range(cols):
            t = 0.0 if n == 1 else c * (n - 1) / (cols - 1)
            v = _interpolate(values_, t)
            if v is None:
                continue
            r = height - 1 - round((v - lo) / (hi - lo) * (height - 1))
            grid[r][c].add(s)
    out = Text()
    out.append(title, style="bold" if color else "")
    names = list(series)
    legend = [(SERIES_MARKS[i], f"bold {SERIES_STYLES[i]}" if color else "", name) for i, name in enumerate(names)]
    if len(names) > 1:
        legend.append((BOTH_MARK, "", "both"))
    used = len(title)
    for mark, style, name in legend:  # a mark never leaves its name: the legend wraps between entries
        if used + 3 + len(mark) + 1 + len(name) > width:
            out.append("\n")
            used = -3
        out.append("   " if used >= 0 else "")
        out.append(mark, style=style)
        out.append(f" {name}")
        used += 3 + len(mark) + 1 + len(name)
    out.append("\n")
    for r, row in enumerate(grid):
        label = labels[0] if r == 0 else labels[2] if r == height - 1 else labels[1] if r == height // 2 else ""
        out.append(f"{label:>{label_width}} |")
        for cell in row:
            if not cell:
                out.append(" ")
            elif len(cell) > 1:
                out.append(BOTH_MARK, style="bold" if color else "")
            else:
                s = next(iter(cell))
                out.append(SERIES_MARKS[s], style=SERIES_STYLES[s] if color else "")
        out.append("\n")
    pad = " " * (label_width + 1)
    out.append(pad + "+" + "-" * cols + "\n")
    out.append(pad + " " + _epoch_axis(n, cols) + "\n")
    out.append(pad + " epoch")
    shown = {k: v for k, v in (finals or {}).items() if v is not None and k in series}
    if shown:
        values = [f"{k} {v:.4f}," for k, v in shown.items()]
        values[-1] = values[-1][:-1] + ";"
        out.append("\n" + _packed(["after training:", *values, "the curve: epoch means"], width, pad + " "))
    return out


def _packed(fields: List[str], width: int, indent: str) -> str:
    """Fields joined by spaces on lines of at most `width` columns, each line `indent`ed; a
    field (a name and its value) is never split."""
    lines = [indent]
    for field in fields:
        if lines[-1].strip() and len(lines[-1]) + 1 + len(field) > width:
            lines.append(indent)
        lines[-1] += (" " if lines[-1].strip() else "") + field
    return "\n".join(lines)


def surface_size(width: int, x_range: float, y_range: float) -> tuple[int, int]:
    """(cols, rows) of a terminal decision boundary `width` columns wide at equal aspect
    (a character cell is about twice as tall as it is wide)."""
    cols = max(min(width, 72), 20)
    rows = round(cols * (y_range / x_range) / 2) if x_range > 0 else cols // 2
    return cols, max(min(rows, 30), 6)


def decision_boundary(surface, X, y, *, color: bool = True, width: int = 80) -> Text:
    """The predicted class of every cell (a character per class) with the training points drawn
    over it (their class digit); a legend names both. Readable with and without colour."""
    grid = surface.classes  # (rows, cols), row 0 = top (largest x2)
    rows, cols = grid.shape
    points: Dict[tuple, int] = {}
    for (x1, x2), label in zip(X, y):
        c = int((x1 - surface.x_min) / (surface.x_max - surface.x_min) * (cols - 1) + 0.5)
        r = int((surface.y_max - x2) / (surface.y_max - surface.y_min) * (rows - 1) + 0.5)
        if 0 <= r < rows and 0 <= c < cols:
            points[(r, c)] = int(label)
    n_classes = max(getattr(surface, "n_classes", 0), int(grid.max()) + 1, int(max(y, default=0)) + 1)
    out = Text()
    out.append("decision boundary", style="bold" if color else "")
    out.append(" (x1 across, x2 up)\n")
    for r in range(rows):
        for c in range(cols):
            region = int(grid[r, c])
            label = points.get((r, c))
            if label is None:
                out.append(REGION_CHARS[region % len(REGION_CHARS)],
                           style=f"dim {CLASS_COLORS[region % len(CLASS_COLORS)]}" if color else "")
            else:
                style = f"bold {CLASS_COLORS[label % len(CLASS_COLORS)]}" if color else ""
                out.append(POINT_CHARS[label % 10], style=style + (" reverse" if color and label != region else ""))
        out.append("\n")
    legend = Text("")
    for k in range(n_classes):
        entry = Text()
        entry.append(f"class {k}: ")
        entry.append(REGION_CHARS[k % len(REGION_CHARS)], style=CLASS_COLORS[k % len(CLASS_COLORS)] if color else "")
        entry.append(" region, ")
        entry.append(POINT_CHARS[k % 10], style=f"bold {CLASS_COLORS[k % len(CLASS_COLORS)]}" if color else "")
        entry.append(" point")
        if k:
            legend.append("\n" if legend.cell_len - legend.plain.rfind("\n") + entry.cell_len + 4 > width else "    ")
        legend.append_text(entry)
    out.append_text(legend)
    out.append("\na digit on another class's region: a misclassified point")
    return out


def save_png(path, history: List[dict], surface=None, X=None, y=None,
             final: Optional[Dict[str, Optional[float]]] = None) -> None:
    """The run's figure (see `figure`) written to `path` (any format matplotlib knows)."""
    fig = figure(history, surface, X, y, final)
    fig.savefig(path, dpi=150)


def figure(history: List[dict], surface=None, X=None, y=None,
           final: Optional[Dict[str, Optional[float]]] = None):
    """Curves and (for 2-D data) the decision boundary as one 16:9 figure: data loss and
    accuracy stacked on the left, the boundary at equal aspect on the right (a Figure not
    attached to pyplot, so nothing needs closing)."""
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    final = final or {}
    fig = Figure(figsize=(12.8, 7.2), layout="constrained")
    if surface is not None:
        grid = fig.add_gridspec(2, 2, width_ratios=[1, 1.15])
        curve_axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]
        boundary_ax = fig.add_subplot(grid[:, 1])
    else:
        grid = fig.add_gridspec(1, 2)
        curve_axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]
        boundary_ax = None
    epochs = [h["epoch"] for h in history]
    titles = {"loss": "data loss (without regularization)", "accuracy": "accuracy"}
    for ax, metric in zip(curve_axes, ("loss", "accuracy")):
        for i, split in enumerate(("train", "val")):
            values = [h.get(f"{split}_{metric}") for h in history]
            pairs = [(e, v) for e, v in zip(epochs, values) if v is not None]
            if not pairs:
                continue
            name = "train (mean over each epoch)" if split == "train" else split
            ax.plot(*zip(*pairs), color=SERIES_COLORS[i], marker="o" if split == "train" else "s",
                    markersize=3.5, linestyle="-" if split == "train" else "--", label=name)
            after = final.get(f"{split}_{metric}")
            if split == "train" and after is not None and epochs:
                ax.plot([epochs[-1]], [after], marker="*", markersize=11, linestyle="none",
                        color=SERIES_COLORS[i], markeredgecolor="black",
                        label=f"train after training: {after:.4f}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if epochs:
            ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)  # no tick at an epoch 0 that never ran
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "accuracy" else "data loss")
        ax.set_title(titles[metric])
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=9)
    if boundary_ax is not None:
        ax = boundary_ax
        n_classes = max(getattr(surface, "n_classes", 0), int(surface.classes.max()) + 1,
                        int(np.max(y)) + 1 if y is not None and len(y) else 0)
        colors = [CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(n_classes)]
        cmap = ListedColormap(colors)
        ax.imshow(surface.classes, extent=(surface.x_min, surface.x_max, surface.y_min, surface.y_max),
                  cmap=cmap, vmin=-0.5, vmax=n_classes - 0.5, alpha=0.35, interpolation="nearest",
                  aspect="equal")
        handles = []
        for k in range(n_classes):
            mask = np.asarray(y) == k
            ax.scatter(X[mask, 0], X[mask, 1], color=colors[k], marker=MARKERS[k % len(MARKERS)], s=16,
                       edgecolors="black", linewidths=0.4)
            handles.append(Line2D([], [], color=colors[k], marker=MARKERS[k % len(MARKERS)], linestyle="none",
                                  markeredgecolor="black", markeredgewidth=0.4, label=f"class {k}"))
        handles.append(Patch(facecolor="#cccccc", edgecolor="grey", label="shading: predicted class"))
        ax.legend(handles=handles, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.set_xlim(surface.x_min, surface.x_max)
        ax.set_ylim(surface.y_min, surface.y_max)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_title("decision boundary (points: training data by true class)")
    return fig
