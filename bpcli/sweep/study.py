"""The Optuna study of a sweep: created or joined, with its sampler and pruner, and the
rule for which trials count towards -n."""

from __future__ import annotations

import zlib
from pathlib import Path

from bpcli.errors import UsageError
from bpcli.sweep.config import SweepConfig
from bpcli.sweep.storage import open_storage, redact, require_optuna

IDENTITY_ATTR = "bpcli_sweep"
# reason_kind of a failed trial that does not count towards -n (it is run again as a new trial)
NOT_COUNTED = ("interrupted", "surplus")


def make_sampler(cfg: SweepConfig, worker: int = 0):
    """random: each trial's values drawn from a generator seeded by (seed, trial number,
    parameter name), so trial k gets the same values whichever worker or machine runs it;
    tpe: Optuna's TPE (constant liar for parallel workers; each worker its own seed)."""
    optuna = require_optuna()
    if cfg.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=cfg.seed * 1009 + worker, constant_liar=True)
    return _trial_seeded_random_class()(cfg.seed)


def make_pruner(cfg: SweepConfig):
    optuna = require_optuna()
    if not cfg.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)


_RANDOM_CLASS = None


def _trial_seeded_random_class():
    global _RANDOM_CLASS
    if _RANDOM_CLASS is None:
        import numpy as np
        from optuna.samplers import RandomSampler

        class TrialSeededRandomSampler(RandomSampler):
            def __init__(self, seed: int):
                super().__init__(seed=seed)
                self._base_seed = int(seed)

            def sample_independent(self, study, trial, param_name, param_distribution):
                key = [self._base_seed, int(trial.number), zlib.crc32(param_name.encode())]
                seed = int(np.random.SeedSequence(key).generate_state(1)[0])
                return RandomSampler(seed=seed).sample_independent(study, trial, param_name, param_distribution)

        _RANDOM_CLASS = TrialSeededRandomSampler
    return _RANDOM_CLASS


def open_study(cfg: SweepConfig, sweep_dir: Path, *, create: bool, worker: int = 0):
    """Create the study (create=True; joining an existing one of the same name when its search
    is the same) or load it; a usage error when the study exists with another search."""
    optuna = require_optuna()
    storage = open_storage(cfg.storage, sweep_dir)
    names = {s.study_name for s in optuna.study.get_all_study_summaries(storage, include_best_trial=False)}
    exists = cfg.study in names
    if not exists and not create:
        raise UsageError(f"no study '{cfg.study}' in {redact(cfg.storage) or sweep_dir}")
    study = optuna.create_study(
        storage=storage, study_name=cfg.study, direction=cfg.direction, load_if_exists=True,
        sampler=make_sampler(cfg, worker), pruner=make_pruner(cfg),
    )
    theirs = study.user_attrs.get(IDENTITY_ATTR)
    if theirs is None:
        study.set_user_attr(IDENTITY_ATTR, cfg.identity())
    elif theirs != cfg.identity():
        raise UsageError(_mismatch(cfg, theirs))
    return study


def _mismatch(cfg: SweepConfig, theirs: dict) -> str:
    ours = cfg.identity()
    diffs = [f"{k}: {theirs.get(k)!r} there, {ours[k]!r} here" for k in ours if theirs.get(k) != ours[k]]
    return (f"study '{cfg.study}' already holds a different sweep ({'; '.join(diffs)}); "
            "give the same spec, arguments and --metric to join it, or another --study name")


def counts(trial) -> bool:
    """Whether a trial uses up one of the -n: finished, pruned, failed by itself (diverged,
    an error), or running. Interrupted trials, trials whose worker died (failed by heartbeat)
    and unrun surplus trials do not: the sweep runs others in their place."""
    state = trial.state.name
    if state in ("COMPLETE", "PRUNED", "RUNNING"):
        return True
    if state == "FAIL":
        kind = trial.user_attrs.get("reason_kind")
        return kind is not None and kind not in NOT_COUNTED
    return False


def counted(trials) -> int:
    return sum(1 for t in trials if counts(t))


def finished_count(trials) -> int:
    return sum(1 for t in trials if counts(t) and t.state.name != "RUNNING")


def running(trials) -> list:
    return [t for t in trials if t.state.name == "RUNNING"]
