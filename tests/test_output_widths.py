"""Every command rendered at 60, 80 and 120 columns: no line wider than the terminal, and no
number, header or YAML value cut (`…`) or split across lines. A word is whole when it is also
a word of the same output rendered 1000 columns wide (a split word leaves fragments that are not)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.spec import builtin_names

runner = CliRunner()
WIDTHS = (60, 80, 120)
BOX = re.compile(r"[\s─━│┃┌┐└┘├┤┬┴┼╭╮╯╰═║]+")

NEURON = ["1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
COMMANDS = {
    "trace neuron": ["trace", *NEURON],
    "trace fork": ["trace", "x*x*y", "x=3", "y=2"],
    "trace expand": ["trace", "sigmoid(w*x+b)*tanh(x)", "--expand", "--seed", "3"],
    "trace max": ["trace", "max(x, y)*z + relu(x - 0.123456)", "x=1.5", "y=-2.25", "z=0.3"],
    "gradcheck spiral": ["gradcheck", "spiral"],
    "gradcheck expression": ["gradcheck", "x*sigmoid(x)", "x=0.3"],
    "gradcheck layer": ["gradcheck", "--layer", "dense", "units=3"],
    "gradcheck h-sweep": ["gradcheck", "tanh(x)*y", "x=0.4", "y=2", "--h-sweep"],
}


def render(args, width):
    result = runner.invoke(app, args, env={"COLUMNS": str(width)})
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def words(text: str) -> set[str]:
    """Whitespace-separated words, without the punctuation a different layout may put after them."""
    return {w.rstrip(",;:") for w in BOX.split(text)} - {""}


def assert_nothing_cut(narrow: str, wide: str, width: int) -> None:
    for line in narrow.splitlines():
        assert len(line.rstrip()) <= width, f"wider than {width}: {line!r}"
    assert "…" not in narrow or "…" in wide
    split = sorted(words(narrow) - words(wide))
    assert not split, f"cut or split at {width} columns: {split[:10]}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(COMMANDS))
def test_nothing_is_cut_or_split(name, width):
    args = COMMANDS[name]
    assert_nothing_cut(render(args, width), render(args, 1000), width)


def _spec_and_table(out: str) -> tuple[dict, str]:
    """The resolved spec (parsed) and the model table of `bpcli show`'s output."""
    import yaml

    text, _, table = out.partition("\nmodel: ")
    return yaml.safe_load(text), table


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", builtin_names())
def test_show_keeps_every_yaml_value_and_table_cell_whole(name, width):
    narrow, wide = render(["show", name], width), render(["show", name], 1000)
    for line in narrow.splitlines()[1:]:  # the first line is the spec's path
        assert len(line.rstrip()) <= width, f"wider than {width}: {line!r}"
    narrow_spec, narrow_table = _spec_and_table(narrow)
    wide_spec, wide_table = _spec_and_table(wide)
    assert narrow_spec == wide_spec  # no value cut (`bias: t`) or split
    assert_nothing_cut(narrow_table, wide_table, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_evaluate_shows_whole_numbers(tmp_path, monkeypatch, width):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "xor", "train.epochs=2", "--out", "run", "-q"])
    assert result.exit_code == 0, result.output
    args = ["evaluate", "run"]
    assert_nothing_cut(render(args, width), render(args, 1000), width)


@pytest.mark.parametrize("width", WIDTHS)
def test_train_lines_fit_and_keep_each_metric_with_its_value(tmp_path, width):
    out = render(["train", "spiral", "train.epochs=3", "--out", str(tmp_path / "r")], width)
    lines = out.splitlines()
    for line in lines:
        assert len(line.rstrip()) <= width, line
    records = re.findall(r"^epoch \d+/3.*(?:\n  .*)*", out, flags=re.M)
    assert len(records) == 3  # one record per epoch; continuation lines are indented
    for line in records:
        assert re.search(r"loss \d\.\d{4}", line) and re.search(r"lr [\d.e-]+", line), line


@pytest.mark.parametrize("columns", ["abc", "0", "-5", "", "80x"])
def test_a_bad_columns_value_is_ignored(columns):
    result = runner.invoke(app, ["trace", "x*y", "x=1", "y=2"], env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    assert "f = 2" in result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_a_sweeps_trial_line_breaks_only_between_fields(width):
    from bpcli.render.sweep import trial_line
    from bpcli.sweep.report import TrialRow
    from bpcli.sweep.space import SearchParam

    params = [SearchParam("optimizer.lr", "loguniform", 1e-3, 1.0),
              SearchParam("regularization.strength", "loguniform", 1e-6, 1e-1),
              SearchParam("model.0.units", "int", 1, 512)]
    row = TrialRow(10, "COMPLETE", {"optimizer.lr": 0.0585, "regularization.strength": 0.00909,
                                   "model.0.units": 384}, 0.4833, None, epochs=60, seconds=0.3)
    fields = ["trial 10", "done", "lr=0.0585", "strength=0.00909", "units=384", "val_accuracy 0.4833",
              "60 epochs", "0.3 s"]
    lines = trial_line(row, params, "val_accuracy", width).splitlines()
    assert all(len(line) <= width for line in lines), lines
    assert [f for line in lines for f in line.strip().split("  ")] == fields


@pytest.mark.parametrize("width", WIDTHS)
def test_gradcheck_notes_keep_each_name_with_its_value(width):
    lines = render(["gradcheck", "spiral"], width).splitlines()
    for line, after in zip(lines, lines[1:] + [""]):
        pair = f"{line.rstrip()} | {after.strip()}"
        assert not re.search(r"\b(analytic|numeric|shape),?$", line.rstrip()), pair  # its value on the next line
        assert not re.search(r"\b(on|off) \| \(|\((>|≤) \| 0\)", pair), pair  # "on (> 0)" split
        assert not re.match(r"(checked|kernels)\b", after.strip()), pair


def test_a_stacked_backward_row_nests_its_wrapped_line_under_its_input():
    # at 60 columns the backward table is stacked: "to w1 ..." then, wrapped, "sent down ..."
    lines = render(COMMANDS["trace neuron"], 60).splitlines()
    pairs = [(a, b) for a, b in zip(lines, lines[1:]) if b.lstrip().startswith("sent down")]
    assert pairs, "no wrapped 'sent down' line at 60 columns"
    for to_line, sent_line in pairs:
        assert to_line.lstrip().startswith("to "), (to_line, sent_line)
        indent = len(to_line) - len(to_line.lstrip())
        assert len(sent_line) - len(sent_line.lstrip()) == indent + 2, (to_line, sent_line)
