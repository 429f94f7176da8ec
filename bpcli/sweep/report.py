"""What a sweep found: one row per trial, the best trials, ranges whose best value sits near
a border, narrower ranges for the next (finer) sweep, and best.yaml. No printing here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from bpcli.sweep.config import SweepConfig
from bpcli.sweep.space import SearchParam, format_value

BORDER = 0.1  # a best value in the outer 10% of its range (log scale for loguniform) is "near the border"
TOP_FRACTION = 0.2  # the trials the narrower ranges are drawn around


@dataclass
class TrialRow:
    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING
    params: dict
    value: Optional[float]
    run_dir: Optional[str]
    reason: Optional[str] = None
    epochs: Optional[int] = None
    seconds: Optional[float] = None
    host: Optional[str] = None

    def to_dict(self, metric: str) -> dict:
        return {
            "number": self.number, "state": self.state.lower(), "params": self.params,
            "value": self.value, metric: self.value, "run_dir": self.run_dir, "reason": self.reason,
            "epochs": self.epochs, "seconds": self.seconds, "host": self.host,
        }


@dataclass
class SweepReport:
    config: SweepConfig
    sweep_dir: Path
    params: list
    rows: list
    best: list  # the best rows, best first
    warnings: list = field(default_factory=list)
    suggestions: list = field(default_factory=list)  # narrower search tokens
    best_yaml: Optional[Path] = None
    notes: list = field(default_factory=list)
    interrupted: bool = False

    @property
    def metric(self) -> str:
        return self.config.metric

    def counts(self) -> dict:
        out: dict = {}
        for r in self.rows:
            out[r.state.lower()] = out.get(r.state.lower(), 0) + 1
        return out

    def next_command(self) -> str:
        """The command for the finer sweep: the same arguments with narrower ranges."""
        names = {p.name: tok for p, tok in zip(self.params, self.suggestions)}
        fixed, params = self.config.split()
        args = [*(f"'{f}'" if "(" in f else f for f in fixed), *(f"'{names.get(p.name, p.token)}'" for p in params)]
        return f"bpcli sweep {self.config.spec} {' '.join(args)} -n {self.config.n_trials}"

    def to_dict(self) -> dict:
        from bpcli.sweep.storage import redact

        return {
            "sweep_dir": str(self.sweep_dir), "study": self.config.study,
            "storage": redact(self.config.storage) or str(self.sweep_dir / "study.journal"),
            "spec": self.config.spec, "metric": self.metric, "direction": self.config.direction,
            "sampler": self.config.sampler, "seed": self.config.seed, "n_trials": self.config.n_trials,
            "space": [p.to_dict() for p in self.params],
            "counts": self.counts(), "interrupted": self.interrupted,
            "best": self.best[0].to_dict(self.metric) if self.best else None,
            "best_yaml": None if self.best_yaml is None else str(self.best_yaml),
            "warnings": self.warnings, "suggested_space": self.suggestions, "notes": self.notes,
            "trials": [r.to_dict(self.metric) for r in self.rows],
        }


def trial_rows(trials) -> list[TrialRow]:
    """The study's trials as rows, by number (unrun surplus trials left out)."""
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        attrs = t.user_attrs
        if attrs.get("reason_kind") == "surplus":
            continue
        reason = attrs.get("reason")
        if t.state.name == "FAIL" and reason is None:
            reason = "its worker stopped (no heartbeat): killed or crashed"
        value = t.value if t.state.name == "COMPLETE" else None
        rows.append(TrialRow(
            number=t.number, state=t.state.name, params=dict(t.params), value=value,
            run_dir=attrs.get("run_dir"), reason=reason, epochs=attrs.get("epochs"),
            seconds=attrs.get("seconds"), host=attrs.get("host"),
        ))
    return rows


def best_rows(rows: list[TrialRow], direction: str, k: int = 5) -> list[TrialRow]:
    done = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    done.sort(key=lambda r: (-r.value if direction == "maximize" else r.value, r.number))
    return done[:k]


def position(param: SearchParam, value: float) -> float:
    """Where a value lies in its range: 0 at low, 1 at high (log scale for loguniform)."""
    lo, hi, v = float(param.low), float(param.high), float(value)
    if param.log:
        lo, hi, v = math.log(lo), math.log(hi), math.log(v)
    return (v - lo) / (hi - lo)


def border_warnings(params: list[SearchParam], best: Optional[TrialRow]) -> list[str]:
    """The course's warning: a best value near the edge of its range means the optimum may lie
    outside it."""
    if best is None:
        return []
    out = []
    for p in params:
        if not p.numeric or p.name not in best.params:
            continue
        t = position(p, best.params[p.name])
        if t <= BORDER or t >= 1 - BORDER:
            side = "low" if t <= BORDER else "high"
            out.append(
                f"the best {p.name}={format_value(best.params[p.name])} lies near the {side} end of "
                f"{p.describe()}: the best value may be outside the range; widen it on that side"
            )
    return out


def narrower_ranges(params: list[SearchParam], rows: list[TrialRow], direction: str) -> list[str]:
    """For each parameter, the range spanned by the top trials (the best fifth, at least 3),
    padded by a tenth of the old width on each side (log scale for loguniform; so a border the
    best trials crowd against moves out); choices keep the values the top trials used."""
    done = best_rows(rows, direction, k=len(rows))
    if len(done) < 3:
        return []
    top = done[: max(3, math.ceil(TOP_FRACTION * len(done)))]
    return [_narrower(p, [r.params[p.name] for r in top if p.name in r.params]) for p in params]


def _narrower(p: SearchParam, values: list) -> str:
    if not values:
        return p.token
    if p.kind == "choice":
        kept = [c for c in p.choices if c in values]
        return f"{p.name}=choice({','.join(format_value(c) for c in kept)})"
    to, back = (math.log, math.exp) if p.log else (float, float)
    pad = 0.1 * (to(float(p.high)) - to(float(p.low)))
    a, b = back(to(float(min(values))) - pad), back(to(float(max(values))) + pad)
    if not p.log and p.low >= 0:
        a = max(a, float(p.low))  # a linear range never goes below a non-negative low end
    if p.kind == "int":
        a, b = int(math.floor(a)), int(math.ceil(b))
        return f"{p.name}=int({a},{max(b, a + 1)})"
    return f"{p.name}={p.kind}({a:.2g},{b:.2g})"


def best_spec_text(cfg: SweepConfig, best: TrialRow) -> str:
    """best.yaml: the best trial's resolved spec (every default filled in), with a header."""
    import yaml

    from bpcli.spec import load_spec

    fixed, params = cfg.split()
    overrides = [*fixed, *(p.override(best.params[p.name]) for p in params if p.name in best.params)]
    spec = load_spec(cfg.spec, overrides)
    header = (
        f"# The best trial ({best.number}) of sweep '{cfg.study}': {cfg.metric} = {best.value:.6g}\n"
        f"# {' '.join(overrides)}\n"
        "# Train it as is: bpcli train best.yaml\n"
    )
    return header + yaml.safe_dump(spec.to_dict(absolute_paths=True), sort_keys=False, allow_unicode=True)


def build_report(cfg: SweepConfig, sweep_dir: Path, trials, notes: list[str] = (), interrupted: bool = False,
                 write_best: bool = True) -> SweepReport:
    """The report of a (finished or interrupted) sweep; writes best.yaml into the sweep directory."""
    from bpcli.training.atomic_file import atomic_writer

    _, params = cfg.split()
    rows = trial_rows(trials)
    best = best_rows(rows, cfg.direction)
    report = SweepReport(cfg, sweep_dir, params, rows, best, notes=list(notes), interrupted=interrupted)
    if best:
        report.warnings = border_warnings(params, best[0])
        report.suggestions = narrower_ranges(params, rows, cfg.direction)
        if write_best:
            report.best_yaml = sweep_dir / "best.yaml"
            with atomic_writer(report.best_yaml) as f:
                f.write(best_spec_text(cfg, best[0]).encode("utf-8"))
    return report


def value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return format_value(value)
