"""Plots that tell the truth: fixed class colours, equal aspect, whole epochs, terminal width,
both series visible, classes readable without colour, the run's essentials last."""

from __future__ import annotations

import re

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.render.plots import (
    BOTH_MARK,
    CLASS_COLORS,
    REGION_CHARS,
    SERIES_MARKS,
    decision_boundary,
    figure,
    line_chart,
)
from bpcli.trained.surface import DecisionSurface

matplotlib = pytest.importorskip("matplotlib")


def plain(text) -> list[str]:
    console = Console(width=200, color_system=None, file=None, record=True, force_terminal=False)
    with console.capture() as capture:
        console.print(text, soft_wrap=True)
    return capture.get().rstrip("\n").split("\n")


def two_regions(predicted=(0, 2), n_classes=3, cols=40, rows=20) -> DecisionSurface:
    """Left half predicted as predicted[0], right half as predicted[1]."""
    classes = np.full((rows, cols), predicted[0])
    classes[:, cols // 2:] = predicted[1]
    return DecisionSurface(classes, -1.0, 1.0, -1.0, 1.0, n_classes)


POINTS = np.array([[-0.8, 0.8], [0.8, -0.8], [0.0, 0.9]])
LABELS = np.array([0, 2, 1])
HISTORY = [dict(epoch=e, train_loss=1.2 - 0.1 * e, val_loss=1.25 - 0.1 * e,
                train_accuracy=0.3 + 0.05 * e, val_accuracy=0.28 + 0.05 * e) for e in range(1, 6)]


def rgb(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]) / 255


def test_a_class_never_predicted_keeps_every_colour_in_place(tmp_path):
    # classes 0 and 2 predicted, 1 never: the right half must be class 2's colour, not class 1's
    path = tmp_path / "p.png"
    fig = figure(HISTORY, two_regions(), POINTS, LABELS)
    fig.savefig(path, dpi=60)
    image = matplotlib.image.imread(path)[..., :3]
    shade = {k: 0.35 * rgb(CLASS_COLORS[k]) + 0.65 for k in range(3)}  # alpha 0.35 over white

    def count(color):
        return int((np.abs(image - color).max(axis=-1) < 0.02).sum())

    assert count(shade[0]) > 1000 and count(shade[2]) > 1000
    assert count(shade[1]) == 0


def test_the_figure_is_sixteen_by_nine_with_an_honest_boundary_panel():
    fig = figure(HISTORY, two_regions(), POINTS, LABELS)
    width, height = fig.get_size_inches()
    assert abs(width / height - 16 / 9) < 1e-6
    loss, accuracy, boundary = fig.axes[:3]
    assert boundary.get_aspect() == 1.0
    assert boundary.get_xlabel() and boundary.get_ylabel()
    legend = [t.get_text() for t in boundary.get_legend().get_texts()]
    assert {"class 0", "class 1", "class 2"} <= set(legend)
    assert "data loss" in loss.get_title()
    fig.canvas.draw()
    for ax in (loss, accuracy):
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 5]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_the_png_labels_the_epoch_mean_and_the_value_after_training_apart():
    fig = figure(HISTORY, None, None, None, final={"train_loss": 0.61, "train_accuracy": 0.6})
    loss = fig.axes[0]
    labels = [t.get_text() for t in loss.get_legend().get_texts()]
    assert any("mean" in t for t in labels) and any("after training: 0.6100" in t for t in labels)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_terminal_chart_takes_the_width_and_never_wraps(width):
    lines = plain(line_chart({"train": [1, 0.5, 0.2], "val": [1.1, 0.6, 0.4]}, title="data loss",
                             width=width, color=False, finals={"train": 0.19}))
    assert max(len(line) for line in lines) <= width
    assert max(len(line) for line in lines) >= width - 6  # uses the width it has


def test_both_series_stay_visible_where_they_meet():
    same = [1.0, 0.8, 0.6, 0.5]
    lines = plain(line_chart({"train": same, "val": same}, title="t", width=60, color=False))
    body = "\n".join(lines[1:-3])
    assert BOTH_MARK in body  # where they coincide: one glyph that says both
    apart = plain(line_chart({"train": [1.0, 0.2], "val": [0.2, 1.0]}, title="t", width=60, color=False))
    body = "\n".join(apart[1:-3])
    assert SERIES_MARKS[0] in body and SERIES_MARKS[1] in body
    assert f"{SERIES_MARKS[0]} train" in apart[0] and f"{SERIES_MARKS[1]} val" in apart[0]


def test_epoch_ticks_are_whole_epochs():
    lines = plain(line_chart({"train": [1.0, 0.5]}, title="t", width=80, color=False))
    ticks = lines[-2].split()
    assert ticks == ["1", "2"]
    many = plain(line_chart({"train": list(np.linspace(1, 0, 37))}, title="t", width=60, color=False))
    numbers = [int(t) for t in many[-2].split()]
    assert numbers[0] == 1 and numbers[-1] == 37 and numbers == sorted(set(numbers))


def test_chart_end_and_final_value_are_named_differently():
    lines = plain(line_chart({"train": [1.2, 1.071]}, title="data loss", width=80, color=False,
                             finals={"train": 1.0643}))
    assert lines[-1].strip() == "after training: train 1.0643; the curve: epoch means"


@pytest.mark.parametrize("color", [True, False])
def test_decision_boundary_carries_classes_without_colour(color):
    # colour or not, what reaches a NO_COLOR terminal is the characters: every region and a legend
    text = decision_boundary(two_regions(predicted=(1, 2)), POINTS, LABELS, color=color, width=60)
    lines = plain(text)
    grid = "\n".join(lines[1:-3])
    assert REGION_CHARS[1] in grid and REGION_CHARS[2] in grid
    assert "0" in grid and "2" in grid  # training points by their class digit
    legend = " ".join(lines[-3:-1])
    for k in range(3):
        assert f"class {k}: {REGION_CHARS[k]} region, {k} point" in legend
    assert max(len(line) for line in lines) <= 60


def test_decision_boundary_palette_is_the_colour_blind_safe_one():
    text = decision_boundary(two_regions(), POINTS, LABELS, color=True, width=60)
    styles = {str(span.style) for span in text.spans}
    assert any(CLASS_COLORS[2].lower() in s.lower() for s in styles)
    assert not any(re.search(r"\b(red|green|blue)\b", s) for s in styles)


@pytest.mark.parametrize("columns", ["60", "80", "120"])
def test_train_output_fits_the_terminal_and_ends_with_the_run(tmp_path, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "spiral", "train.epochs=3", "optimizer.lr=0.1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.rstrip("\n").split("\n")
    assert lines[-1].startswith("run directory: ")
    assert max(len(line) for line in lines) <= int(columns), max(lines, key=len)
    text = result.stdout
    assert text.index("decision boundary") < text.index("final metrics") < text.index("run directory")


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_chart_legend_and_footer_wrap_between_entries_never_inside_one(width):
    title = "data loss (without regularization)"
    lines = plain(line_chart({"train": [1.0, 0.5], "val": [1.1, 0.6]}, title=title, width=width, color=False,
                             finals={"train": 0.0013, "val": 0.0018}))
    assert all(len(line) <= width for line in lines), lines
    text = "\n".join(lines)
    for entry in (f"{SERIES_MARKS[0]} train", f"{SERIES_MARKS[1]} val", f"{BOTH_MARK} both",
                  "train 0.0013,", "val 0.0018;", "the curve: epoch means"):
        assert entry in text, (entry, text)
