"""A run directory after a crash at any point: a real `bpcli train` subprocess SIGKILLs itself at
a chosen write or rename of a save (bpcli/faults.py, BPCLI_KILL_AT), then `--resume` must finish
it bit-for-bit equal to a run that was never interrupted: the same last.npz, best.npz, metrics."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# val_loss improves at epochs 1, 2, 3, 5, 7 and then stalls: early stopping ends the run after
# epoch 11 and restores epoch 7's weights, so most saves happen while best.npz lags last.npz.
SPEC = """\
seed: 3
data: {type: spiral, points_per_class: 30, val_fraction: 0.3}
model: [{dense: 16}, relu, {dense: 3}]
optimizer: {type: momentum, lr: 0.5}
train: {epochs: 30, batch_size: 16, checkpoint_min_seconds: 0, early_stopping: {patience: 4}}
"""


def bpcli(*args, kill_at=None, cwd=None):
    env = dict(os.environ)
    env.pop("BPCLI_KILL_AT", None)
    if kill_at:
        env["BPCLI_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "bpcli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT, timeout=120)


def npz_arrays(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def assert_same_checkpoint(a, b):
    A, B = npz_arrays(a), npz_arrays(b)
    assert sorted(A) == sorted(B)
    for key in A:
        if key == "meta":
            assert json.loads(str(A[key])) == json.loads(str(B[key])), key
        else:
            assert A[key].dtype == B[key].dtype and np.array_equal(A[key], B[key]), key


def assert_same_run(run, reference):
    assert (run / "metrics.jsonl").read_text() == (reference / "metrics.jsonl").read_text()
    assert_same_checkpoint(run / "checkpoints" / "last.npz", reference / "checkpoints" / "last.npz")
    assert_same_checkpoint(run / "checkpoints" / "best.npz", reference / "checkpoints" / "best.npz")
    final = json.loads((run / "summary.json").read_text())["final"]
    assert final == json.loads((reference / "summary.json").read_text())["final"]
    leftovers = [p.name for p in [*run.glob(".*.tmp"), *run.glob("checkpoints/.*.tmp")]]
    assert leftovers == []


@pytest.fixture(scope="module")
def spec_and_reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    spec = root / "spec.yaml"
    spec.write_text(SPEC)
    done = bpcli("train", spec, "--out", root / "reference", "--quiet")
    assert done.returncode == 0, done.stderr
    summary = json.loads((root / "reference" / "summary.json").read_text())
    assert (summary["epochs"], summary["best_epoch"], summary["stopped_early"]) == (11, 7, True)
    return spec, root / "reference"


def crash_and_resume(spec, tmp_path, kill_at):
    run = tmp_path / "run"
    killed = bpcli("train", spec, "--out", run, "--quiet", kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    resumed = bpcli("train", "--resume", run, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    return run, resumed


# NAME#N: the N-th time the point is reached. best.npz is written only when the best changes
# (epochs 1, 2, 3, 5, 7); last.npz after every epoch and once more at the end.
QUICK_POINTS = [
    "last.npz:opened#5",      # epoch 5's last.npz half written: last and best both from epoch 4 / 3
    "last.npz:written#5",     # complete but not renamed
    "last.npz:replaced#7",    # last.npz from epoch 7 in place, best.npz still epoch 5's: the issue's case
    "best.npz:written#5",     # epoch 7's best.npz (the final best) complete, not renamed
    "best.npz:replaced#4",
    "last.npz:replaced#12",   # the final save (best weights restored into last) done, summary not
    "metrics.jsonl:appended#6",  # a metrics line ahead of every checkpoint
]
MORE_POINTS = [
    "best.npz:opened#1", "best.npz:replaced#1", "last.npz:written#1",
    "last.npz:opened#9", "last.npz:replaced#9", "best.npz:opened#5", "best.npz:written#4",
    "summary.json:written#1", "spec.yaml:replaced#1",
]


@pytest.mark.parametrize("kill_at", QUICK_POINTS)
def test_a_kill_at_any_write_or_rename_of_a_save_resumes_to_the_uninterrupted_run(spec_and_reference, tmp_path, kill_at):
    spec, reference = spec_and_reference
    run, _ = crash_and_resume(spec, tmp_path, kill_at)
    assert_same_run(run, reference)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", MORE_POINTS)
def test_more_kill_points_resume_to_the_uninterrupted_run(spec_and_reference, tmp_path, kill_at):
    spec, reference = spec_and_reference
    run, _ = crash_and_resume(spec, tmp_path, kill_at)
    assert_same_run(run, reference)


def test_a_kill_after_the_summary_is_written_leaves_a_complete_run(spec_and_reference, tmp_path):
    spec, reference = spec_and_reference
    run = tmp_path / "run"
    killed = bpcli("train", spec, "--out", run, "--quiet", kill_at="summary.json:replaced#1")
    assert killed.returncode == -signal.SIGKILL
    again = bpcli("train", "--resume", run, "--quiet")
    assert again.returncode == 2 and "is complete: early stopping ended it after epoch 11" in again.stderr
    assert_same_run(run, reference)


def test_a_run_killed_before_its_first_checkpoint_starts_again_on_resume(spec_and_reference, tmp_path):
    spec, reference = spec_and_reference
    run, resumed = crash_and_resume(spec, tmp_path, "last.npz:written#1")
    assert "stopped before its first checkpoint" in resumed.stderr
    assert_same_run(run, reference)


def test_train_out_on_a_run_killed_before_its_first_checkpoint_says_to_resume(spec_and_reference, tmp_path):
    spec, _ = spec_and_reference
    run = tmp_path / "run"
    assert bpcli("train", spec, "--out", run, "--quiet", kill_at="last.npz:opened#1").returncode == -signal.SIGKILL
    again = bpcli("train", spec, "--out", run, "--quiet")
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert f"--resume {run}" in again.stderr and "before its first checkpoint" in again.stderr


def test_evaluate_best_after_a_kill_between_the_two_renames_uses_the_best_weights_last_records(spec_and_reference, tmp_path):
    """Before resuming, best.npz still holds epoch 3's weights while last.npz says epoch 5 is the
    best: `evaluate --checkpoint best` must use epoch 5's weights (kept inside last.npz)."""
    spec, _ = spec_and_reference
    run = tmp_path / "run"
    assert bpcli("train", spec, "--out", run, "--quiet", kill_at="best.npz:written#4").returncode == -signal.SIGKILL
    whole = tmp_path / "whole"
    five = bpcli("train", spec, "train.epochs=5", "--out", whole, "--quiet")
    assert five.returncode == 0, five.stderr
    got = bpcli("evaluate", run, "--checkpoint", "best", "--format", "json")
    want = bpcli("evaluate", whole, "--checkpoint", "best", "--format", "json")
    assert got.returncode == 0 and want.returncode == 0, got.stderr + want.stderr
    assert json.loads(got.stdout)["metrics"] == json.loads(want.stdout)["metrics"]


def wait_for(predicate, seconds=30.0):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_two_runs_on_one_out_the_second_exits_2_naming_the_first_and_a_killed_owner_does_not_block_resume(spec_and_reference, tmp_path):
    spec, _ = spec_and_reference
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "bpcli", "train", str(spec), "train.epochs=1000000", "train.early_stopping=null",
                              "--out", str(run), "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: (run / "checkpoints" / "last.npz").exists()), "the first run never saved"
        for second in (bpcli("train", spec, "--out", run, "--quiet"), bpcli("train", "--resume", run, "--quiet")):
            assert second.returncode == 2, second.stderr
            assert f"in use by another bpcli process (pid {first.pid})" in second.stderr
            assert "Traceback" not in second.stderr
        assert first.poll() is None
    finally:
        first.kill()
        first.wait()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, len(lines) + 1))  # no epoch twice
    saved = json.loads(str(npz_arrays(run / "checkpoints" / "last.npz")["meta"]))["epoch"]
    resumed = bpcli("train", "--resume", run, f"train.epochs={saved + 3}", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "summary.json").read_text())["epochs"] == saved + 3


def test_out_of_memory_while_training_names_the_batch_size_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    from bpcli.errors import RunWriteFailed
    from bpcli.training.entry import train_spec
    from bpcli.spec import load_spec_text
    from bpcli.training.loop import Trainer

    def out_of_memory(self, *args):
        raise MemoryError

    monkeypatch.setattr(Trainer, "run", out_of_memory)
    with pytest.raises(RunWriteFailed) as caught:
        train_spec(load_spec_text(SPEC), out=tmp_path / "run")
    assert caught.value.exit_code == 1
    assert "out of memory while training: a batch of 16 examples" in caught.value.message
    assert "lower train.batch_size" in caught.value.message
