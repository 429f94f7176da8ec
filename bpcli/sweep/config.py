"""A sweep's settings (sweep.json in its directory) and the choice of its objective."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from bpcli.errors import SpecError, SpecProblem, UsageError
from bpcli.sweep.space import SearchParam, parse_sweep_arguments

CONFIG_NAME = "sweep.json"
METRICS = ("val_accuracy", "val_loss")
SAMPLERS = ("random", "tpe")


@dataclass
class SweepConfig:
    """What every worker of a sweep needs. `tokens` are the user's NAME=VALUE arguments
    (plain overrides and search spaces, in order); `storage` is None for the journal in the
    sweep directory (a database URL with a password is not written down: give it again)."""

    spec: str
    tokens: list[str]
    metric: str
    n_trials: int
    study: str
    sampler: str = "random"
    seed: int = 0
    prune: bool = False
    storage: Optional[str] = None
    workers: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def direction(self) -> str:
        return "maximize" if self.metric.endswith("accuracy") else "minimize"

    def split(self) -> tuple[list[str], list[SearchParam]]:
        """(plain overrides, search parameters)."""
        return parse_sweep_arguments(self.tokens)

    def identity(self) -> dict:
        """What must agree for processes to share one study."""
        return {"spec": self.spec, "tokens": list(self.tokens), "metric": self.metric}

    def save(self, sweep_dir: Path) -> None:
        from bpcli.sweep.storage import redact

        data = asdict(self)
        if self.storage is not None and redact(self.storage) != self.storage:
            data["storage"] = None
            data["extra"] = dict(self.extra, storage_redacted=redact(self.storage))
        tmp = sweep_dir / f".{CONFIG_NAME}.tmp"
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, sweep_dir / CONFIG_NAME)

    @classmethod
    def load(cls, sweep_dir: Path) -> "SweepConfig":
        path = sweep_dir / CONFIG_NAME
        if not path.is_file():
            what = "not found" if not sweep_dir.exists() else f"not a sweep directory (no {CONFIG_NAME})"
            raise UsageError(f"{sweep_dir}: {what}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (ValueError, TypeError) as err:
            raise UsageError(f"{path} is damaged: {err}") from None


def spec_source(config: str) -> str:
    """A spec argument as every worker can find it: an absolute path, or a built-in name."""
    path = Path(config)
    return str(path.resolve()) if path.is_file() else config


def choose_metric(spec, data, metric: Optional[str], where: str) -> str:
    """The objective: --metric, else the early-stopping monitor when it is a validation
    metric, else val_accuracy (val_loss for regression). A spec without a validation split
    is an error that says how to add one."""
    if data.X_val is None or len(data.X_val) == 0:
        raise SpecError(SpecProblem(
            "a sweep scores each trial on the validation split, and this spec has none: add one "
            "with data.val_fraction=0.2 (as an argument here, or under data: in the spec)",
            "data.val_fraction", where,
        ))
    if metric is not None:
        if metric not in METRICS:
            raise UsageError(f"unknown --metric '{metric}'; choose from: {', '.join(METRICS)}")
    else:
        early = spec.train.early_stopping
        if early is not None and early.monitor in METRICS:
            metric = early.monitor
        else:
            metric = "val_accuracy" if data.task == "classification" else "val_loss"
    if metric.endswith("accuracy") and data.task != "classification":
        raise UsageError(f"--metric {metric}: this spec is a regression task (no accuracy); use --metric val_loss")
    return metric
