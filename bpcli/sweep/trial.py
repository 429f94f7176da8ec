"""One worker's loop: claim a trial from the study (never more than -n in all), train it into
a normal run directory under the sweep's trials/, and tell the study how it went. A trial that
diverges or fails is recorded as failed with its reason and the loop goes on."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Callable, Optional

from bpcli.errors import BpcliError, TrainingDiverged
from bpcli.sweep.config import SweepConfig
from bpcli.sweep.space import SearchParam
from bpcli.sweep.storage import AskLock, journal_path
from bpcli.sweep.study import counted, counts
from bpcli.training.callbacks import TrainCallbacks
from bpcli.training.ctrl_c import TrainingInterrupted

TRIALS_DIR = "trials"


def trial_dir(sweep_dir: Path, number: int) -> Path:
    return sweep_dir / TRIALS_DIR / f"{number:04d}"


REPORTS_PER_TRIAL = 20  # each report is one synced write to the storage


class ReportEpochs(TrainCallbacks):
    """Reports the objective every k-th epoch (k = epochs / 20, rounded up; and the last epoch)
    as Optuna's intermediate values (the dashboard's curves, the median pruner's input; every
    trial of a sweep reports at the same epochs) and prunes when the pruner says so."""

    def __init__(self, trial, metric: str, prune: bool):
        self.trial, self.metric, self.prune = trial, metric, prune
        self.every, self.epochs = 1, 0

    def on_start(self, *, start_epoch, epochs, steps_per_epoch, n_train) -> None:
        self.epochs = epochs
        self.every = max(1, -(-epochs // REPORTS_PER_TRIAL))

    def on_epoch(self, metrics) -> None:
        import optuna

        value = getattr(metrics, self.metric, None)
        if value is None or (metrics.epoch % self.every and metrics.epoch != self.epochs):
            return
        self.trial.report(float(value), metrics.epoch)
        if self.prune and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {metrics.epoch}: {self.metric} {value:.4g} is worse than the median")


def claim_trial(study, cfg: SweepConfig, lock: AskLock):
    """A new trial when fewer than -n count; None when the sweep is full."""
    from optuna.trial import TrialState

    with lock:
        if counted(study.get_trials(deepcopy=False)) >= cfg.n_trials:
            return None
        trial = study.ask()
    # without a lock (a database shared by machines) two processes may both have asked the
    # last one: the trials that count are the first n by number, so a later one steps back
    earlier = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number and counts(t)]
    if len(earlier) >= cfg.n_trials:
        trial.set_user_attr("reason_kind", "surplus")
        trial.set_user_attr("reason", "not run: the study already had its -n trials")
        study.tell(trial, state=TrialState.FAIL)
        return None
    return trial


def suggest(trial, param: SearchParam):
    if param.kind == "choice":
        return trial.suggest_categorical(param.name, list(param.choices))
    if param.kind == "int":
        return trial.suggest_int(param.name, int(param.low), int(param.high))
    return trial.suggest_float(param.name, param.low, param.high, log=param.log)


def run_trial(study, trial, cfg: SweepConfig, sweep_dir: Path, stop_requested: Callable[[], bool]) -> str:
    """Train one trial and tell the study; returns its final state name ('interrupted' when
    Ctrl-C stopped it: its checkpoint is kept, the trial is failed and does not count;
    'lost' when another process failed it meanwhile, its heartbeat having been late)."""
    from optuna.exceptions import UpdateFinishedTrialError

    try:
        return _run_trial(study, trial, cfg, sweep_dir, stop_requested)
    except UpdateFinishedTrialError:
        return "lost"


def _run_trial(study, trial, cfg: SweepConfig, sweep_dir: Path, stop_requested: Callable[[], bool]) -> str:
    import optuna
    from optuna.storages._heartbeat import get_heartbeat_thread
    from optuna.trial import TrialState

    from bpcli.training.entry import train_spec
    from bpcli.spec import load_spec

    fixed, params = cfg.split()
    out = trial_dir(sweep_dir, trial.number)
    trial.set_user_attr("run_dir", str(out.resolve()))
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    started = time.perf_counter()
    epochs = {"n": 0}

    class Count(ReportEpochs):
        def on_epoch(self, metrics) -> None:
            epochs["n"] = metrics.epoch
            super().on_epoch(metrics)

    def on_trainer(trainer) -> None:
        if stop_requested():
            trainer.interrupt()

    def fail(kind: str, reason: str) -> str:
        trial.set_user_attr("reason_kind", kind)
        trial.set_user_attr("reason", reason)
        _timing(trial, started, epochs["n"])
        study.tell(trial, state=TrialState.FAIL)
        return "interrupted" if kind == "interrupted" else "FAIL"

    with get_heartbeat_thread(trial._trial_id, study._storage):
        try:
            values = {p.name: suggest(trial, p) for p in params}
            spec = load_spec(cfg.spec, [*fixed, *(p.override(values[p.name]) for p in params)])
            run = train_spec(spec, name=f"trial-{trial.number}", out=out,
                             callbacks=Count(trial, cfg.metric, cfg.prune), on_trainer=on_trainer)
        except optuna.TrialPruned as pruned:
            trial.set_user_attr("reason", str(pruned))
            _timing(trial, started, epochs["n"])
            study.tell(trial, state=TrialState.PRUNED)
            return "PRUNED"
        except TrainingInterrupted as err:
            return fail("interrupted", f"interrupted ({err.message}); its run can be continued with bpcli train --resume {out}")
        except KeyboardInterrupt:
            return fail("interrupted", "interrupted")
        except TrainingDiverged as err:
            return fail("diverged", err.message.splitlines()[0])
        except BpcliError as err:
            return fail("error", err.render().splitlines()[0])
        except MemoryError:
            return fail("error", "out of memory")
        except optuna.exceptions.UpdateFinishedTrialError:
            raise
        except Exception as err:  # a bug, in bpcli or a user's layer: recorded, the sweep goes on
            return fail("error", f"internal error: {type(err).__name__}: {err}")
        value = run.result.final.get(cfg.metric)
        if value is None or value != value:
            return fail("error", f"the run measured no {cfg.metric}")
        _timing(trial, started, epochs["n"])
        study.tell(trial, float(value))
        return "COMPLETE"


def _timing(trial, started: float, epochs: int) -> None:
    trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))
    trial.set_user_attr("epochs", int(epochs))


def work(cfg: SweepConfig, sweep_dir: Path, study, stop_requested: Callable[[], bool],
         on_trial: Optional[Callable[[str], None]] = None) -> bool:
    """Claim and run trials until the sweep is full (True) or a stop is asked for (False)."""
    from optuna.storages import fail_stale_trials

    lock = AskLock(journal_path(cfg.storage, sweep_dir))
    while not stop_requested():
        fail_stale_trials(study)
        trial = claim_trial(study, cfg, lock)
        if trial is None:
            return True
        state = run_trial(study, trial, cfg, sweep_dir, stop_requested)
        if on_trial:
            on_trial(state)
        if state == "interrupted":
            return False
    return False
