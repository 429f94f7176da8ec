"""`sweep(request)`: validate everything, make (or reopen) the sweep directory and its study,
run the workers, and return the report. The one library call behind `bpcli sweep`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from bpcli.errors import UsageError
from bpcli.sweep.config import SAMPLERS, CONFIG_NAME, SweepConfig, choose_metric, spec_source
from bpcli.sweep.report import SweepReport, build_report
from bpcli.sweep.runner import SweepInterrupted, run_sweep
from bpcli.sweep.space import parse_sweep_arguments, validate_space

MAX_WORKERS = 256
MAX_TRIALS = 10**6


@dataclass
class SweepRequest:
    """The command line of `bpcli sweep`, as given (None: not given)."""

    spec: Optional[str] = None
    tokens: tuple = ()
    n_trials: Optional[int] = None
    workers: Optional[int] = None
    sampler: str = "random"
    prune: bool = False
    metric: Optional[str] = None
    seed: Optional[int] = None
    out: Optional[Path] = None
    resume: Optional[Path] = None
    storage: Optional[str] = None
    study: Optional[str] = None


class SweepStopped(SweepInterrupted):
    """Ctrl-C, with the report of what finished (exit 130)."""

    def __init__(self, message: str, report: SweepReport):
        super().__init__(message)
        self.report = report


def prepare(request: SweepRequest, on_note: Callable[[str], None] = lambda note: None) -> tuple[SweepConfig, Path, bool]:
    """Check every argument (spec, search space, metric, storage flags) before anything runs:
    (config, sweep directory, whether it is a resumed sweep)."""
    from bpcli.sweep.storage import require_optuna

    require_optuna()
    if request.sampler not in SAMPLERS:
        raise UsageError(f"unknown --sampler '{request.sampler}'; choose from: {', '.join(SAMPLERS)}")
    if request.workers is not None and not 1 <= request.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be from 1 to {MAX_WORKERS}, got {request.workers}")
    if request.n_trials is not None and not 1 <= request.n_trials <= MAX_TRIALS:
        raise UsageError(f"-n must be from 1 to {MAX_TRIALS:,}, got {request.n_trials}")
    if request.resume is not None:
        return _prepare_resume(request)
    if request.spec is None:
        raise UsageError("give a spec, e.g. bpcli sweep spiral data.val_fraction=0.2 'optimizer.lr=loguniform(1e-3,1)'")
    if request.storage is not None and request.study is None:
        raise UsageError("--storage needs --study NAME: every process that joins the study names it")
    fixed, params = parse_sweep_arguments(request.tokens)
    if not params:
        raise UsageError("nothing to search: give at least one NAME=uniform(a,b), loguniform(a,b), int(a,b) or choice(...)")
    spec = validate_space(request.spec, fixed, params)
    for note in spec.notes:
        on_note(note)
    metric = _metric(spec, request.metric, request.spec)
    sweep_dir = _new_sweep_dir(request)
    cfg = SweepConfig(
        spec=spec_source(request.spec), tokens=list(request.tokens), metric=metric,
        n_trials=request.n_trials or 20, study=request.study or sweep_dir.name,
        sampler=request.sampler, seed=spec.seed if request.seed is None else request.seed,
        prune=request.prune, storage=request.storage, workers=request.workers or 1,
    )
    return cfg, sweep_dir, False


def _metric(spec, metric: Optional[str], where: str) -> str:
    from bpcli.training.setup import load_dataset, model_dtype

    return choose_metric(spec, load_dataset(spec, model_dtype(spec)), metric, where)


def _prepare_resume(request: SweepRequest) -> tuple[SweepConfig, Path, bool]:
    if request.spec is not None or request.tokens or request.study is not None or request.out is not None:
        raise UsageError("--resume continues a sweep with its own spec and search space; "
                         "give only -n, --workers, --storage (when it has a password) with it")
    sweep_dir = Path(request.resume)
    cfg = SweepConfig.load(sweep_dir)
    if request.storage is not None:
        cfg.storage = request.storage
    elif cfg.storage is None and cfg.extra.get("storage_redacted"):
        raise UsageError(f"this sweep's study is in {cfg.extra['storage_redacted']}: give it again with --storage URL")
    if request.n_trials is not None:
        cfg.n_trials = request.n_trials
    if request.workers is not None:
        cfg.workers = request.workers
    if request.sampler != "random" and request.sampler != cfg.sampler:
        raise UsageError(f"this sweep samples with {cfg.sampler}; --sampler cannot change on --resume")
    fixed, params = cfg.split()
    validate_space(cfg.spec, fixed, params)
    return cfg, sweep_dir, True


def _new_sweep_dir(request: SweepRequest) -> Path:
    if request.out is not None:
        path = Path(request.out)
        if (path / CONFIG_NAME).exists():
            raise UsageError(f"{path} already holds a sweep; continue it with --resume {path} or pick another --out")
        return path
    name = Path(request.spec).stem if request.spec else "sweep"
    base = Path("sweeps") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def sweep(request: SweepRequest, on_start: Callable[[SweepConfig, Path, bool], None],
          on_change: Callable[[list], None], on_note: Callable[[str], None] = lambda note: None):
    """Run a sweep to its -n trials: (report, study). SweepStopped (exit 130) on Ctrl-C."""
    from bpcli.sweep.study import open_study

    cfg, sweep_dir, resumed = prepare(request, on_note)
    try:
        (sweep_dir / "trials").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the sweep directory {sweep_dir}: {err.strerror or err}") from None
    study = open_study(cfg, sweep_dir, create=not resumed)
    cfg.save(sweep_dir)
    on_start(cfg, sweep_dir, resumed)
    try:
        processes = run_sweep(cfg, sweep_dir, study, cfg.workers, on_change)
    except SweepInterrupted as err:
        report = build_report(cfg, sweep_dir, study.get_trials(deepcopy=False), interrupted=True)
        raise SweepStopped(err.message, report) from None
    return build_report(cfg, sweep_dir, study.get_trials(deepcopy=False), processes.notes), study
