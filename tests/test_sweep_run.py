"""Real sweeps: `bpcli sweep` processes with worker processes on the embedded journal and on a
shared storage; Ctrl-C and resume; a worker killed with kill -9; failing trials."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna") if not os.environ.get("CI") else __import__("optuna")

SPACE = ["optimizer.lr=loguniform(1e-3,1)", "regularization.strength=loguniform(1e-5,1e-1)"]
TINY = ["spiral", "data.val_fraction=0.25", "data.points_per_class=40", "train.epochs=4", *SPACE]
SLOW_TRIALS = ["spiral", "data.val_fraction=0.25", "train.epochs=600", *SPACE]  # about 2 s a trial


def _env():
    return dict(os.environ, BPCLI_SWEEP_HEARTBEAT="1", COLUMNS="120")


def _sweep(*args, timeout=240):
    r = subprocess.run([sys.executable, "-m", "bpcli", "sweep", *args], capture_output=True, text=True,
                       timeout=timeout, env=_env())
    return r


def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "bpcli", "sweep", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())


def _trials(journal: Path, study: str):
    from bpcli.sweep.storage import open_storage

    storage = open_storage(str(journal), journal.parent)
    return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)


def _by_number(report):
    return {t["number"]: (t["params"], t["value"], t["state"]) for t in report["trials"]}


def test_two_workers_give_the_same_trials_as_one(tmp_path):
    runs = {}
    for workers in (1, 2):
        r = _sweep(*TINY, "-n", "6", "--workers", str(workers), "--seed", "3", "--out", str(tmp_path / f"w{workers}"), "--format", "json")
        assert r.returncode == 0, r.stderr
        runs[workers] = json.loads(r.stdout)
    one, two = _by_number(runs[1]), _by_number(runs[2])
    assert sorted(one) == list(range(6)) and one == two
    assert all(state == "complete" for _, _, state in one.values())
    # trial k's values come from (seed, k): a different seed gives different ones
    assert {k: v[0] for k, v in one.items()} != {k: v[0] for k, v in _by_number(json.loads(
        _sweep(*TINY, "-n", "6", "--seed", "4", "--out", str(tmp_path / "s4"), "--format", "json").stdout)).items()}
    # every trial is a normal run directory; the trials ran in two processes
    pids = {t["number"]: t for t in runs[2]["trials"]}
    for t in runs[2]["trials"]:
        run = Path(t["run_dir"])
        assert (run / "spec.yaml").is_file() and (run / "summary.json").is_file() and (run / "checkpoints" / "last.npz").is_file()
    assert len(pids) == 6
    study_trials = _trials(tmp_path / "w2" / "study.journal", "w2")
    assert len({t.user_attrs["pid"] for t in study_trials}) == 2


def test_report_best_yaml_trains_as_is_and_json_has_every_trial(tmp_path):
    r = _sweep(*TINY, "-n", "4", "--out", str(tmp_path / "s"), "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["metric"] == "val_accuracy" and report["direction"] == "maximize"
    assert len(report["trials"]) == 4
    for t in report["trials"]:
        assert set(t) >= {"number", "params", "value", "state", "run_dir"}
        assert set(t["params"]) == {"optimizer.lr", "regularization.strength"}
    best = max(report["trials"], key=lambda t: t["value"])
    assert report["best"]["number"] == best["number"]
    train = subprocess.run([sys.executable, "-m", "bpcli", "train", report["best_yaml"], "--quiet", "--format", "json",
                            "--out", str(tmp_path / "again")], capture_output=True, text=True, timeout=120)
    assert train.returncode == 0, train.stderr
    assert json.loads(train.stdout)["final"]["val_accuracy"] == pytest.approx(best["value"])


def test_piped_output_has_one_line_per_trial_and_no_ansi(tmp_path):
    r = _sweep(*TINY, "-n", "3", "--out", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if line.startswith("trial ")]
    assert len([line for line in lines if "  done  " in line]) == 3
    assert "\x1b[" not in r.stdout
    assert "best spec:" in r.stdout and "bpcli train" in r.stdout


def test_diverging_and_failing_trials_are_recorded_and_the_sweep_goes_on(tmp_path):
    # lr up to 1e4 with no clipping diverges; the sweep still finishes all its trials
    r = _sweep("spiral", "data.val_fraction=0.25", "data.points_per_class=40", "train.epochs=4",
               "optimizer.lr=choice(0.1,1e4)", "-n", "6", "--out", str(tmp_path / "s"), "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    states = {t["state"] for t in report["trials"]}
    assert len(report["trials"]) == 6 and states == {"complete", "fail"}
    for t in report["trials"]:
        if t["state"] == "fail":
            assert t["params"]["optimizer.lr"] == 1e4 and "diverged" in t["reason"]


def test_two_sweep_processes_on_one_storage_finish_one_study_without_repeats(tmp_path):
    journal = tmp_path / "shared.journal"
    procs = [_start(*TINY, "-n", "8", "--storage", str(journal), "--study", "shared", "--out", str(tmp_path / f"p{i}"),
                    "--format", "json") for i in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    trials = _trials(journal, "shared")
    assert sorted(t.number for t in trials) == list(range(8))
    assert all(t.state.name == "COMPLETE" for t in trials)
    run_dirs = sorted(d.name for i in range(2) for d in (tmp_path / f"p{i}" / "trials").iterdir())
    assert run_dirs == [f"{n:04d}" for n in range(8)]  # each trial ran once, in one process
    # a process with another search cannot join the study
    r = _sweep("spiral", "data.val_fraction=0.25", "optimizer.lr=uniform(0.1,1)", "--storage", str(journal),
               "--study", "shared", "--out", str(tmp_path / "p3"))
    assert r.returncode == 2 and "different sweep" in r.stderr


def _running_trial(journal: Path, study: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            trials = _trials(journal, study) if journal.exists() else []
        except KeyError:  # the journal is there, the study not yet
            trials = []
        if trials:
            for t in trials:
                if t.state.name == "RUNNING" and "pid" in t.user_attrs and t.intermediate_values:
                    return t
        time.sleep(0.2)
    raise AssertionError("no trial started")


def test_ctrl_c_stops_every_worker_saves_and_resume_finishes(tmp_path):
    out = tmp_path / "s"
    p = _start(*SLOW_TRIALS, "-n", "5", "--workers", "2", "--out", str(out))
    running = _running_trial(out / "study.journal", "s")
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stderr
    assert f"bpcli sweep --resume {out}" in stderr
    trials = _trials(out / "study.journal", "s")
    assert not [t for t in trials if t.state.name == "RUNNING"]  # every worker stopped and told the study
    stopped = [t for t in trials if t.user_attrs.get("reason_kind") == "interrupted"]
    assert running.number in {t.number for t in stopped}
    for t in stopped:  # each kept its checkpoint, resumable with bpcli train --resume
        assert (Path(t.user_attrs["run_dir"]) / "checkpoints" / "last.npz").is_file()
    r = _sweep("--resume", str(out), "--format", "json", "-n", "3")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert sum(t["state"] == "complete" for t in report["trials"]) == 3
    numbers = [t["number"] for t in report["trials"]]
    assert len(numbers) == len(set(numbers))


def test_a_worker_killed_with_kill_9_is_failed_by_heartbeat_and_the_sweep_finishes(tmp_path):
    out = tmp_path / "s"
    p = _start(*SLOW_TRIALS, "-n", "3", "--workers", "2", "--out", str(out), "--format", "json")
    victim = _running_trial(out / "study.journal", "s")
    os.kill(victim.user_attrs["pid"], signal.SIGKILL)
    stdout, stderr = p.communicate(timeout=240)
    assert p.returncode == 0, stderr
    report = json.loads(stdout)
    by = {t["number"]: t for t in report["trials"]}
    assert by[victim.number]["state"] == "fail" and "heartbeat" in by[victim.number]["reason"]
    assert sum(t["state"] == "complete" for t in report["trials"]) == 3  # another trial took its place
    assert f"pid {victim.user_attrs['pid']}) was killed by SIGKILL" in stderr
    assert any("SIGKILL" in note for note in report["notes"])


def test_resume_after_the_whole_sweep_was_killed(tmp_path):
    out = tmp_path / "s"
    p = _start(*SLOW_TRIALS, "-n", "2", "--workers", "1", "--out", str(out))
    victim = _running_trial(out / "study.journal", "s")
    os.kill(victim.user_attrs["pid"], signal.SIGKILL)  # the worker, then the sweep: a crash
    p.kill()
    p.communicate(timeout=60)
    r = _sweep("--resume", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    by = {t["number"]: t for t in report["trials"]}
    assert by[victim.number]["state"] == "fail"
    assert sum(t["state"] == "complete" for t in report["trials"]) == 2


def test_prune_stops_hopeless_trials_and_tpe_runs(tmp_path):
    # learning rates from 1e-4 (learns nothing in 20 epochs) to 1: after 4 finished trials, a
    # trial below the median of the earlier ones at the same epoch is stopped there
    r = _sweep("spiral", "data.val_fraction=0.25", "train.epochs=20", "optimizer.lr=loguniform(1e-4,1)",
               "-n", "10", "--prune", "--seed", "0", "--out", str(tmp_path / "p"), "--format", "json")
    assert r.returncode == 0, r.stderr
    trials = json.loads(r.stdout)["trials"]
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned and all(t["number"] >= 4 for t in pruned)
    assert all(t["epochs"] < 20 and "pruned after epoch" in t["reason"] for t in pruned)
    assert all(t["epochs"] == 20 for t in trials if t["state"] == "complete")
    r = _sweep(*TINY, "-n", "5", "--sampler", "tpe", "--out", str(tmp_path / "t"), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["trials"]) == 5


def test_plot_writes_three_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    r = _sweep(*TINY, "-n", "4", "--plot", "--out", str(tmp_path / "s"), "--format", "json")
    assert r.returncode == 0, r.stderr
    pictures = json.loads(r.stdout)["pictures"]
    assert sorted(Path(p).name for p in pictures) == ["importance.png", "parallel.png", "scatter.png"]
    for p in pictures:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(p).stat().st_size > 5000
