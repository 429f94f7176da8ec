"""A shared study on a real PostgreSQL server started here (Debian's postgresql package; `.ci/run`
installs it): two `bpcli sweep` processes on one database finish one study, no trial twice.
Skips without PostgreSQL locally; under CI (env CI set) a missing server is a failure."""

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what}: .ci/run installs it, so under CI this must not be missing")
    pytest.skip(what)


def _postgres_bin() -> Path:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return Path(d)
    initdb = shutil.which("initdb")
    if initdb is None:
        _missing("PostgreSQL (initdb, pg_ctl) is not installed")
    return Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url():
    """A throwaway server on 127.0.0.1 and a free port, trust authentication, data in a temp
    dir; as root, run as the postgres user (initdb refuses root)."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        _missing("psycopg2 (the PostgreSQL driver in the test extra) is not installed")
    bindir = _postgres_bin()
    base = Path(tempfile.mkdtemp(prefix="bpcli-pg-"))
    as_user: list = []
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            _missing("no 'postgres' user to run the server as")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        runuser = shutil.which("runuser") or next((p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), None)
        if runuser is None:
            _missing("runuser (util-linux) is not installed")
        as_user = [runuser, "-u", "postgres", "--"]
    data, port = base / "data", _free_port()

    def run(*cmd):
        r = subprocess.run([*as_user, *map(str, cmd)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{cmd[0]} failed: {r.stdout}{r.stderr}"

    run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(bindir / "pg_ctl", "-D", data, "-l", base / "server.log", "-o", options, "-w", "-t", "60", "start")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_two_sweep_processes_share_one_postgres_study(postgres_url, tmp_path):
    args = ["spiral", "data.val_fraction=0.25", "data.points_per_class=40", "train.epochs=4",
            "optimizer.lr=loguniform(1e-3,1)", "-n", "8", "--storage", postgres_url, "--study", "pg-shared",
            "--format", "json"]
    env = dict(os.environ, BPCLI_SWEEP_HEARTBEAT="1")
    procs = [subprocess.Popen([sys.executable, "-m", "bpcli", "sweep", *args, "--out", str(tmp_path / f"p{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    report = json.loads(outs[1][0])
    assert sorted(t["number"] for t in report["trials"]) == list(range(8))
    assert all(t["state"] == "complete" for t in report["trials"])
    assert "postgresql" in report["storage"]
    ran = sorted(d.name for i in range(2) for d in (tmp_path / f"p{i}" / "trials").iterdir())
    assert ran == [f"{n:04d}" for n in range(8)]  # each trial ran once, in one of the processes
