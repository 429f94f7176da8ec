"""`bpcli train / evaluate / predict` from the outside: exit codes, JSON-only stdout, run
directories, Ctrl-C on a real process and its resume."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bpcli.training.checkpoint import load_checkpoint
from bpcli.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def bpcli(*args, cwd=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "bpcli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout)


def test_json_format_prints_only_the_summary_on_stdout(tmp_path):
    proc = bpcli("train", "--format", "json", "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert {"epochs", "steps", "train_seconds", "run_dir", "final"} <= summary.keys()
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy"} <= summary["final"].keys()
    assert "test_accuracy" not in summary["final"]  # the spiral has no test split
    assert summary["final"]["train_accuracy"] >= 0.97
    assert "sanity check" in proc.stderr and "epoch 60/60" in proc.stderr  # diagnostics on stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["final"] == summary["final"]


def test_plain_output_has_the_sanity_check_one_line_per_epoch_curves_and_boundary(tmp_path):
    result = runner.invoke(app, ["train", "train.epochs=4", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "sanity check: initial loss 1.09" in out and "ln(3) = 1.0986: ok" in out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("epoch ")] == ["1/4", "2/4", "3/4", "4/4"]
    assert "decision boundary" in out and "\x1b[" not in out
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [".lock", "checkpoints", "metrics.jsonl", "spec.yaml", "summary.json"]
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"last.npz", "best.npz"}
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 4


def test_quiet_prints_no_progress(tmp_path):
    result = runner.invoke(app, ["train", "train.epochs=2", "--quiet", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0
    assert "epoch 1/2" not in result.stdout and "sanity" not in result.stdout


def test_default_run_directory_is_runs_name_timestamp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "train.epochs=1", "--quiet", "--format", "json"])
    assert result.exit_code == 0
    run_dir = Path(json.loads(result.stdout)["run_dir"])
    assert run_dir.parent == Path("runs") and run_dir.name.startswith("spiral-")
    assert (tmp_path / run_dir / "checkpoints" / "last.npz").is_file()


def test_usage_errors_exit_2_without_a_traceback(tmp_path):
    cases = [
        ["train", "no_such_spec"],
        ["train", "optimizer.lrr=0.1"],
        ["train", "spiral", "notanassignment"],
        ["train", "--format", "xml"],
        ["train", "--resume", str(tmp_path / "missing")],
        ["train", "spiral", "--resume", str(tmp_path)],
        ["evaluate", str(tmp_path / "missing.npz")],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path, monkeypatch):
    import bpcli.render.plots as plots

    monkeypatch.setattr(plots, "matplotlib_available", lambda: False)
    result = runner.invoke(app, ["train", "--plot", str(tmp_path / "p.png"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "pip install 'bpcli[plot]'" in result.stderr
    assert not (tmp_path / "r").exists()  # refused before training


def test_divergence_exits_1_naming_the_step(tmp_path):
    result = runner.invoke(app, ["train", "optimizer.lr=1e30", "train.batch_size=null", "--quiet",
                                 "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "step 2" in result.stderr and "lower the learning rate" in result.stderr
    assert str(tmp_path / "r" / "checkpoints" / "last.npz") in result.stderr


def test_evaluate_and_predict_use_the_saved_model(tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--quiet", "--format", "json", "--out", str(run)])
    final = json.loads(result.stdout)["final"]
    ev = runner.invoke(app, ["evaluate", str(run / "checkpoints" / "last.npz"), "--format", "json"])
    assert ev.exit_code == 0, ev.output
    metrics = json.loads(ev.stdout)["metrics"]
    assert metrics["train_accuracy"] == final["train_accuracy"]
    assert metrics["train_loss"] == final["train_loss"]

    points = np.array([[0.0, 0.0], [0.5, -0.3], [-0.7, 0.2]])
    csv_in = tmp_path / "points.csv"
    csv_in.write_text("x1,x2\n" + "\n".join(f"{a},{b}" for a, b in points) + "\n")
    out = tmp_path / "pred.csv"
    pr = runner.invoke(app, ["predict", str(run), str(csv_in), "--out", str(out)])
    assert pr.exit_code == 0, pr.output
    rows = out.read_text().splitlines()
    assert rows[0] == "prediction,prob_0,prob_1,prob_2" and len(rows) == 4
    for row in rows[1:]:
        pred, *probs = row.split(",")
        probs = [float(p) for p in probs]
        assert abs(sum(probs) - 1) < 1e-4 and int(pred) == int(np.argmax(probs))
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,oops\n")
    broken = runner.invoke(app, ["predict", str(run), str(bad)])
    assert broken.exit_code == 2 and "row 2, column 2" in broken.stderr


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_exits_130_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    args = ["train", "train.epochs=100000", "schedule.min_factor=1.0", "--out", str(run)]
    proc = subprocess.Popen([sys.executable, "-m", "bpcli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert f"resume with: bpcli train --resume {run}" in stderr
    saved = load_checkpoint(run / "checkpoints" / "last.npz")
    epoch = saved.meta["epoch"] + (1 if saved.meta["position"] else 0)
    assert epoch >= 3

    target = epoch + 2
    resumed = bpcli("train", "--resume", str(run), f"train.epochs={target}", "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["epochs"] == target
    # the same run without the interruption: cosine with min_factor 1 is a constant lr, so the
    # total number of epochs does not change any step and the metrics must match exactly
    whole = bpcli("train", f"train.epochs={target}", "schedule.min_factor=1.0", "--quiet", "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    assert metrics.read_bytes() == (tmp_path / "whole" / "metrics.jsonl").read_bytes()
    a, b = load_checkpoint(run / "checkpoints" / "last.npz"), load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.npz")
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_overfit_flag_reports_the_loss_going_near_zero(tmp_path):
    result = runner.invoke(app, ["train", "--overfit", "20", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.stdout.splitlines() if l.startswith("overfit check"))
    assert "(20 examples)" in line and line.endswith("near zero, ok")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["overfit_examples"] == 20 and summary["final"]["train_loss"] < 0.05


def test_plot_writes_a_png_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")  # the optional `plot` extra; its absence is tested above
    png = tmp_path / "curves.png"
    result = runner.invoke(app, ["train", "train.epochs=3", "--quiet", "--plot", str(png), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_on_a_csv_of_the_training_points_matches_the_run(tmp_path):
    from bpcli.data import load_data

    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "train.epochs=5", "--quiet", "--format", "json", "--out", str(run)])
    final = json.loads(result.stdout)["final"]
    data = load_data({"type": "spiral"}, seed=0)  # the built-in spec's data and seed
    csv_file = tmp_path / "points.csv"
    csv_file.write_text("x1,x2,label\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(data.X_train, data.y_train)))
    ev = runner.invoke(app, ["evaluate", str(run / "checkpoints" / "last.npz"), "--data", str(csv_file), "--format", "json"])
    assert ev.exit_code == 0, ev.output
    metrics = json.loads(ev.stdout)["metrics"]
    assert metrics["data_accuracy"] == final["train_accuracy"]
    assert metrics["data_loss"] == pytest.approx(final["train_loss"], rel=1e-6)
