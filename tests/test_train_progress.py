"""Training progress: one line per finished epoch with the true rate (on a terminal too, Keras
style, above a live bar over the current epoch); --quiet prints nothing on stdout."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.render import progress as progress_module
from bpcli.render.progress import PlainProgress, RichProgress, pack_fields
from bpcli.training.metrics import EpochMetrics

runner = CliRunner()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def metrics(epoch: int, steps_per_epoch: int) -> EpochMetrics:
    return EpochMetrics(epoch=epoch, step=epoch * steps_per_epoch, lr=0.1, train_loss=1.0 / epoch,
                        train_accuracy=0.5)


def drive(callbacks, clock, epochs=3, steps_per_epoch=10, seconds_per_step=0.01):
    """Run the callbacks through a fake training run on a fake clock (100 steps/s)."""
    callbacks.on_start(start_epoch=0, epochs=epochs, steps_per_epoch=steps_per_epoch, n_train=100)
    descriptions = []
    for epoch in range(epochs):
        for batch in range(steps_per_epoch):
            clock.now += seconds_per_step
            callbacks.on_step(epoch, batch, 0.5)
        callbacks.on_epoch(metrics(epoch + 1, steps_per_epoch))
        if isinstance(callbacks, RichProgress) and callbacks.progress is not None:
            descriptions.append(callbacks.progress.tasks[0].description)
    callbacks.on_end(None)
    return descriptions


@pytest.mark.parametrize("kind", [PlainProgress, RichProgress])
def test_every_epoch_leaves_a_line_with_its_number_and_the_true_rate(kind, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=kind is RichProgress, color_system=None)
    descriptions = drive(kind(console), clock)
    lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line) for line in out.getvalue().splitlines()]
    epoch_lines = [line.strip() for line in lines if re.match(r"\s*epoch \d+/3  step", line)]
    assert [line.split()[1] for line in epoch_lines] == ["1/3", "2/3", "3/3"]
    for line in epoch_lines:
        assert line.endswith("100 steps/s"), line  # 10 steps per 0.1 s, not a stale early rate
    if kind is RichProgress:
        assert descriptions == ["epoch 2/3", "epoch 3/3", "epoch 3/3"]  # the bar moves on at once


def test_the_live_bar_shows_the_current_epoch_and_rate_on_every_frame(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    console = Console(file=io.StringIO(), width=100, force_terminal=True)
    bar = RichProgress(console)
    bar.on_start(start_epoch=0, epochs=2, steps_per_epoch=50, n_train=100)
    for epoch in range(2):
        for batch in range(50):
            clock.now += 0.01
            bar.on_step(epoch, batch, 0.5)
            task = bar.progress.tasks[0]
            if batch and batch % 10 == 0:  # frames drawn every 0.1 s
                assert task.description == f"epoch {epoch + 1}/2"
                assert task.fields["speed"] == "100 steps/s"
                assert task.completed == batch + 1
        bar.on_epoch(metrics(epoch + 1, 50))
    bar.close()


def test_a_field_is_never_split_from_its_value():
    fields = ["epoch 10/60", "step 100", "loss 0.1234", "acc 0.9900", "lr 0.000343", "7,000 steps/s"]
    text = pack_fields(fields, 30)
    assert all(len(line) <= 30 for line in text.splitlines())
    assert sorted(f.strip() for line in text.splitlines() for f in line.split("  ") if f.strip()) == sorted(fields)


def test_quiet_prints_nothing_on_stdout(tmp_path):
    result = runner.invoke(app, ["train", "xor", "train.epochs=2", "--out", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert (tmp_path / "r" / "summary.json").exists()


def test_quiet_json_prints_only_the_json(tmp_path):
    result = runner.invoke(app, ["train", "xor", "train.epochs=2", "--out", str(tmp_path / "r"), "-q", "-f", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["epochs"] == 2 and result.stderr == ""


def test_quiet_still_reports_errors_on_stderr():
    result = runner.invoke(app, ["train", "no-such-spec.yaml", "-q"])
    assert result.exit_code == 2
    assert result.stdout == "" and "error" in result.stderr
