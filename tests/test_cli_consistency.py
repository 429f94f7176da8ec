"""What every command shares: the `error:` prefix and "did you mean", spec settings typed as
flags pointed to their override, the same short flags, the user's spec file before a built-in,
`predict --format json`."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.spec.load import builtin_dir

runner = CliRunner()


@pytest.mark.parametrize("command", ["train", "show", "gradcheck"])
def test_a_misspelt_spec_name_gets_error_and_did_you_mean(command):
    result = runner.invoke(app, [command, "spirl"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "did you mean 'spiral'?" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["train", "spirl"], ["show", "spiral", "optimizer.lrr=1"], ["trace", "x*"], ["gradcheck", "x*"],
     ["evaluate", "no-such-run"], ["predict", "no-such-run", "x.csv"], ["train", "spiral", "x"]],
)
def test_every_error_starts_with_the_same_prefix(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: "), result.stderr


@pytest.mark.parametrize("command", ["train", "show", "gradcheck"])
@pytest.mark.parametrize(
    "flag, override",
    [(["--epochs", "5"], "train.epochs=5"), (["--batch-size=32"], "train.batch_size=32"),
     (["--lr", "0.1"], "optimizer.lr=0.1")],
)
def test_a_spec_setting_typed_as_a_flag_points_to_its_override(command, flag, override):
    result = runner.invoke(app, [command, "spiral", *flag])
    assert result.exit_code == 2
    assert "No such option" in result.output and override in result.output


@pytest.mark.parametrize("command", ["trace", "gradcheck", "train", "show", "evaluate", "predict"])
def test_format_has_the_short_flag_f_everywhere(command):
    help_text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    assert "--format" in help_text and "-f" in help_text


@pytest.mark.parametrize("command", ["train", "predict", "schema"])
def test_o_means_out_wherever_it_exists(command):
    help_text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    line = next(line for line in help_text.splitlines() if " -o " in line and "│" in line)
    assert "--out" in line


def test_schema_o_writes_the_file(tmp_path):
    target = tmp_path / "s.json"
    result = runner.invoke(app, ["schema", "-o", str(target)])
    assert result.exit_code == 0 and json.loads(target.read_text())["type"] == "object"


def test_a_spec_file_in_the_working_directory_wins_over_the_builtin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (builtin_dir() / "spiral.yaml").read_text().replace("epochs: 60", "epochs: 2")
    assert "epochs: 2" in text
    (tmp_path / "spiral.yaml").write_text(text)
    result = runner.invoke(app, ["train", "spiral", "--out", "r"])
    assert result.exit_code == 0, result.output
    assert "built-in" not in result.stdout and "spec: spiral.yaml" in result.stdout
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["epochs"] == 2
    shown = runner.invoke(app, ["show", "spiral", "-f", "json"]).stdout
    assert json.loads(shown)["spec"]["train"]["epochs"] == 2


def test_the_builtin_is_named_as_such(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "spiral", "train.epochs=1", "--out", "r"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "spec: built-in spec spiral"
    assert runner.invoke(app, ["show", "spiral"]).stdout.startswith("# resolved spec: built-in spec spiral\n")


def test_predict_format_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["train", "xor", "train.epochs=2", "-o", "r", "-q"]).exit_code == 0
    (tmp_path / "in.csv").write_text("0.5,0.5\n-1,1\n")
    result = runner.invoke(app, ["predict", "r", "in.csv", "-f", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["columns"] == ["prediction", "prob_0", "prob_1"]
    assert len(out["predictions"]) == 2
    for row in out["predictions"]:
        assert row["prob_0"] + row["prob_1"] == pytest.approx(1.0)
        assert row["prediction"] == int(row["prob_1"] > row["prob_0"])
    csv_out = runner.invoke(app, ["predict", "r", "in.csv"]).stdout.splitlines()
    assert csv_out[0] == "prediction,prob_0,prob_1" and len(csv_out) == 3
