"""`bpcli sweep`'s own process: starts N worker processes (BLAS threads split between them),
watches the study (stale trials failed through heartbeats, a worker killed by a signal
replaced), reports the trials as they change, and on Ctrl-C stops every worker so each saves
its trial's checkpoint, then raises SweepInterrupted (exit 130)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from bpcli.errors import BpcliError
from bpcli.sweep.config import SweepConfig
from bpcli.sweep.study import counted, finished_count, running
from bpcli.sweep.worker import STORAGE_ENV

POLL_SECONDS = 0.5
STOP_WAIT_SECONDS = 60.0  # a worker gets this long to save its checkpoint after Ctrl-C
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class SweepInterrupted(BpcliError):
    """Ctrl-C: the workers stopped and their trials were saved; exit 130."""

    exit_code = 130


@dataclass
class Worker:
    index: int
    process: subprocess.Popen
    note: str = ""


@dataclass
class SweepProcesses:
    """What happened to the worker processes (for the final report)."""

    notes: list[str] = field(default_factory=list)
    restarts: int = 0


def worker_environment(workers: int) -> dict:
    """The environment of each worker: BLAS threads = cores // workers, unless the user set
    them; one worker keeps the trainer's own choice (train.blas_threads)."""
    env = dict(os.environ)
    if workers > 1 and not any(v in env for v in BLAS_VARIABLES):
        share = str(max(1, (os.cpu_count() or 1) // workers))
        env.update({v: share for v in BLAS_VARIABLES})
    return env


def _start(cfg: SweepConfig, sweep_dir: Path, index: int, env: dict) -> Worker:
    env = dict(env)
    if cfg.storage:
        env[STORAGE_ENV] = cfg.storage
    process = subprocess.Popen(
        [sys.executable, "-m", "bpcli.sweep.worker", str(sweep_dir), str(index)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
    )
    return Worker(index, process)


def run_sweep(cfg: SweepConfig, sweep_dir: Path, study, workers: int,
              on_change: Callable[[list], None]) -> SweepProcesses:
    """Run the study to cfg.n_trials with `workers` processes; `on_change(trials)` after each poll."""
    from optuna.storages import fail_stale_trials

    env = worker_environment(workers)
    log = SweepProcesses()
    pool: list[Worker] = []
    restarts_left = max(2, 2 * workers)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        pool = [_start(cfg, sweep_dir, i, env) for i in range(workers)]
        while True:
            fail_stale_trials(study)
            trials = study.get_trials(deepcopy=False)
            on_change(trials)
            for w in pool:
                code = w.process.poll()
                if code is None or w.note:
                    continue
                w.note = _exit_note(w, code)
                if w.note != "done":
                    log.notes.append(w.note)
                if code < 0 and restarts_left > 0 and counted(trials) < cfg.n_trials:
                    restarts_left -= 1
                    log.restarts += 1
                    pool.append(_start(cfg, sweep_dir, w.index, env))
            if all(w.process.poll() is not None for w in pool):
                if finished_count(trials) >= cfg.n_trials:
                    break
                if running(trials):  # trials of a dead worker (failed once stale) or of another machine
                    time.sleep(POLL_SECONDS)
                    continue
                if restarts_left <= 0 or any(w.process.returncode > 0 for w in pool):
                    break  # the workers stopped on their own (their message is on stderr)
                restarts_left -= 1
                pool = [_start(cfg, sweep_dir, i, env) for i in range(workers)]
                continue
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        _stop(pool)
        on_change(study.get_trials(deepcopy=False))
        raise SweepInterrupted("interrupted: the workers stopped and their trials' checkpoints were saved") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        for w in pool:
            if w.process.poll() is None:
                w.process.kill()
                w.process.wait()
    on_change(study.get_trials(deepcopy=False))
    return log


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _exit_note(w: Worker, code: int) -> str:
    if code == 0:
        return "done"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return (f"worker {w.index} (pid {w.process.pid}) was killed by {name}; its trial is marked "
                "failed when its heartbeat stops, and another worker takes its place")
    return f"worker {w.index} (pid {w.process.pid}) stopped with exit code {code}"


def _stop(pool: list[Worker]) -> None:
    """SIGINT to every live worker (each saves its trial and exits), then wait; kill stragglers."""
    live = [w for w in pool if w.process.poll() is None]
    for w in live:
        try:
            w.process.send_signal(signal.SIGINT)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    for w in live:
        try:
            w.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.process.kill()
            w.process.wait()
        except KeyboardInterrupt:  # a second Ctrl-C: stop at once
            for other in live:
                if other.process.poll() is None:
                    other.process.kill()
            break
