"""The hostile-input catalogue (tests/hostile/cases.py): every broken spec and broken data file
exits with its code and a message naming its place (`file:line`, or the file and row), with no
traceback, within 10 seconds and 2 GiB of address space (RLIMIT_AS), and a data case writes no
run directory. Each case runs the real `bpcli` entry point in a child forked from one worker
process (tests/hostile/worker.py), so a case costs milliseconds, not a Python start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hostile.cases import DATA_FILES, SPECS, Case  # noqa: E402

MEMORY = 2 * 2**30
TIMEOUT = 10.0
WORKER = Path(__file__).parent / "hostile" / "worker.py"


@pytest.fixture(scope="module")
def worker():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", COLUMNS="200")
    proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)

    def run(args, cwd):
        proc.stdin.write(json.dumps({"args": args, "cwd": str(cwd), "memory": MEMORY, "timeout": TIMEOUT}) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    yield run
    proc.stdin.close()
    proc.wait(timeout=30)


def materialize(case: Case, folder: Path) -> list[str]:
    """Write the case's files; return the command's arguments."""
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        content = content() if callable(content) else content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogatepass")
        path.write_bytes(content)
    spec = "spec.yaml"
    if case.special == "fifo":
        os.mkfifo(folder / "spec.yaml")
    elif case.special == "fifo-data":
        os.mkfifo(folder / "data.csv")
    elif case.special:
        spec = case.special
    if case.command == "train":
        return ["train", spec, "--out", "run", "--quiet"]
    return [case.command, spec, *case.args]


def check(case: Case, result: dict, folder: Path) -> None:
    err = result["stderr"]
    assert result["killed"] is None, f"over {TIMEOUT} s"
    assert result["exit"] == case.exit, (result["exit"], err[-2000:])
    assert "Traceback" not in err and "internal error" not in err, err[-3000:]
    if case.exit == 0:
        return
    assert case.place in err, f"{case.place!r} not in: {err[:1000]}"
    if case.says:
        assert case.says in err, f"{case.says!r} not in: {err[:1000]}"
    assert len(err) < 4000, f"message of {len(err):,} characters: echoed input is not cut"
    if case.command == "train":
        assert not (folder / "run").exists(), "a run directory was written for bad data"


def test_the_catalogue_has_at_least_60_broken_specs_and_30_broken_data_files():
    assert len(SPECS) >= 60 and len(DATA_FILES) >= 30
    ids = [c.id for c in SPECS + DATA_FILES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", SPECS, ids=[c.id for c in SPECS])
def test_broken_spec(worker, tmp_path, case):
    args = materialize(case, tmp_path)
    check(case, worker(args, tmp_path), tmp_path)


@pytest.mark.parametrize("case", DATA_FILES, ids=[c.id for c in DATA_FILES])
def test_broken_data_file(worker, tmp_path, case):
    args = materialize(case, tmp_path)
    check(case, worker(args, tmp_path), tmp_path)
