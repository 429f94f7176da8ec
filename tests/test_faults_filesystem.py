"""A run directory on a file system that fills up or turns read-only, driven through a real
`bpcli train` in a private mount namespace (`unshare -m` + a small tmpfs; needs root): exit 1
(a run-time fault) or 2 (resume refused), one line naming the file and the reason, and the
last complete checkpoint intact. Skipped where the machine does not allow the mounts."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# ~300 kB of weights: a few checkpoints fill a 1 MB tmpfs
SPEC = """\
seed: 0
data: {type: bars, images_per_class: 40, size: 12, val_fraction: 0.25}
model: [flatten, {dense: 512}, relu, {dense: 3}]
train: {epochs: 3000, checkpoint_min_seconds: 0}
"""


def mounts_allowed() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || "
                            "mount -t tmpfs -o size=64k tmpfs /tmp"], capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not mounts_allowed(), reason="needs root and unshare -m to mount a private tmpfs")


def in_namespace(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run a shell script in a private mount namespace with $MNT a fresh tmpfs mount point."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (tmp_path / "spec.yaml").write_text(SPEC)
    env = dict(os.environ, MNT=str(mnt), SPEC=str(tmp_path / "spec.yaml"), OUT=str(tmp_path),
               BPCLI=f"{sys.executable} -m bpcli", PYTHONPATH=str(ROOT))
    return subprocess.run(["unshare", "-m", "bash", "-c", textwrap.dedent(script)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def loads(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz["meta"]))


def test_a_full_disk_exits_1_naming_the_file_and_keeps_the_last_checkpoint(tmp_path):
    done = in_namespace("""
        mount -t tmpfs -o size=1m tmpfs "$MNT"
        $BPCLI train "$SPEC" --out "$MNT/run" --quiet 2> "$OUT/stderr"; echo $? > "$OUT/rc"
        cp -r "$MNT/run" "$OUT/run"
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    err = (tmp_path / "stderr").read_text()
    assert (tmp_path / "rc").read_text().strip() == "1", err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "No space left on device" in err and "the last complete checkpoint is kept" in err
    assert loads(tmp_path / "run" / "checkpoints" / "last.npz")["epoch"] >= 1
    assert not list((tmp_path / "run").glob("**/.*.tmp"))


def test_a_file_system_turning_read_only_mid_run_exits_1_and_resume_on_it_exits_2(tmp_path):
    done = in_namespace("""
        mount -t tmpfs -o size=64m tmpfs "$MNT"
        $BPCLI train "$SPEC" --out "$MNT/run" --quiet 2> "$OUT/stderr" & pid=$!
        for i in $(seq 600); do [ -f "$MNT/run/checkpoints/last.npz" ] && break; sleep 0.05; done
        for i in $(seq 200); do mount -o remount,ro "$MNT" 2>/dev/null && break; sleep 0.01; done
        (sleep 60; kill -9 $pid 2>/dev/null) >/dev/null 2>&1 & watchdog=$!
        wait $pid; echo $? > "$OUT/rc"
        kill $watchdog 2>/dev/null
        $BPCLI train --resume "$MNT/run" --quiet 2> "$OUT/resume_stderr"; echo $? > "$OUT/resume_rc"
        cp -r "$MNT/run" "$OUT/run"
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    err = (tmp_path / "stderr").read_text()
    assert (tmp_path / "rc").read_text().strip() == "1", err
    assert "Read-only file system" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert loads(tmp_path / "run" / "checkpoints" / "last.npz")["epoch"] >= 1
    resume_err = (tmp_path / "resume_stderr").read_text()
    assert (tmp_path / "resume_rc").read_text().strip() == "2", resume_err
    assert "Read-only file system" in resume_err and "Traceback" not in resume_err
