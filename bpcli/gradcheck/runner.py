"""Run a gradient check on objectives: pick indices or directions, difference, judge, hint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from bpcli.gradcheck import hints as hinting
from bpcli.gradcheck.compare import DENOMINATOR_FACTOR, SMALL_FACTOR, judge, mismatch, noise_level
from bpcli.gradcheck.kinks import KinkWatch
from bpcli.gradcheck.numeric import (
    direction_difference, entry_difference, random_direction, sampled_indices, all_indices,
)
from bpcli.gradcheck.objective import Objective
from bpcli.gradcheck.sweep import Sweep, h_sweep

MODES = ("auto", "full", "sparse", "directional")
FULL_MAX_ENTRIES = 2_000  # auto: check every entry up to this many in total (2 losses each)
SPARSE_MAX_ENTRIES = 200_000  # auto: k random entries per tensor up to this many; beyond, directions
DEFAULT_K = {"full": 0, "sparse": 20, "directional": 2}
HINT_ENTRIES = 12  # entries differenced to diagnose a failure found by directions
KINK_DETAILS = 3
DEFAULT_H = 1e-5
# Directional step: v has unit norm, so h is the length of the whole step in parameter space,
# spread over n entries (each moves by ~h/√n). ∇L·v is small (~‖∇L‖/√n) while round-off of the
# difference is ~ε|L|/h, so the directional check wants a larger h than the per-entry one; but
# a larger h crosses more relu kinks. Measured on the 784-512-256-10 MLP (batch 128, 42 random
# directions, bench/gradcheck_directional.py --h-table): median relative error 1.4e-9 at h=1e-5,
# 2.4e-10 at 1e-4, 1.8e-8 at 1e-3; directions crossing a kink: 0, 0, 16 of 42. So h = 1e-4.
DIRECTIONAL_H = 1e-4


def choose_mode(n_entries: int) -> str:
    """auto: every entry for small targets, k entries per tensor for medium, directions above."""
    if n_entries <= FULL_MAX_ENTRIES:
        return "full"
    if n_entries <= SPARSE_MAX_ENTRIES:
        return "sparse"
    return "directional"


@dataclass
class ObjectiveReport:
    """Every check of one objective (a model's loss, one layer, an expression)."""

    label: str
    loss: float
    checks: list
    noise: float = 0.0  # round-off of one centered difference, ε·max|L|/h
    sweep: Optional[Sweep] = None
    notes: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and not self.notes


@dataclass
class GradcheckReport:
    mode: str
    requested_mode: str
    h: float
    k: int
    seed: int
    objectives: list

    @property
    def checks(self) -> list:
        return [c for o in self.objectives for c in o.checks]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.objectives)

    def failures(self) -> list:
        return [c for c in self.checks if not c.passed]

    def verdict(self) -> str:
        checks = self.checks
        bad = self.failures()
        notes = [n for o in self.objectives for n in o.notes]
        if bad or notes:
            wrong = [c for c in bad if c.status != "nonfinite"]
            overflowed = [c for c in bad if c.status == "nonfinite"]
            parts = []
            if wrong:
                parts.append(f"{len(wrong)} of {_count(len(checks), 'gradient')} wrong: {_names(wrong)}")
            if overflowed:
                parts.append(f"{len(overflowed)} of {_count(len(checks), 'gradient')} not finite "
                             f"(inf/nan: an overflow): {_names(overflowed)}")
            return f"FAILED — {'; '.join(parts) if parts else notes[0]}"
        by_status = {}
        for c in checks:
            by_status[c.status] = by_status.get(c.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in by_status.items())
        judged = [c.max_rel_error for c in checks if c.status in ("ok", "warn")]
        worst = f", max relative error {max(judged):.1e}" if judged else ""
        extra = []
        if by_status.get("warn"):
            extra.append("warn: error above 1e-7, look closer")
        kinks = sum(c.kinks for c in checks)
        if kinks:
            extra.append(f"{_count(kinks, 'difference')} straddled a kink and {'was' if kinks == 1 else 'were'} not judged")
        if by_status.get("small"):
            level = max(o.noise for o in self.objectives) * SMALL_FACTOR
            extra.append(f"small: both gradients below the round-off level (~{level:.0e} at "
                         f"h={self.h:g}), not judged — try --h-sweep")
        tail = f"; {'; '.join(extra)}" if extra else ""
        return (f"PASSED — {_count(len(checks), 'gradient')} checked ({summary}){worst}, "
                f"{self.mode} mode{tail}")


def _names(checks: list, most: int = 6) -> str:
    return ", ".join(c.name for c in checks[:most]) + (" …" if len(checks) > most else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _direction_label(j: int) -> str:
    return f"v{j}"


@dataclass
class _Raw:
    """Differences for one parameter before the verdict (noise is known only at the end)."""

    name: str
    shape: tuple
    labels: list
    analytic_at: np.ndarray
    numeric: np.ndarray
    kinks: list
    probe: Callable[[int, float], float]  # (entry number, h) -> numeric there
    shape_problem: Optional[str] = None


def _difference(objective: Objective, name: str, grad: np.ndarray, *, mode: str, k: int, h: float,
                rng: np.random.Generator, watch: Optional[KinkWatch]) -> tuple[_Raw, list]:
    """Numeric differences for one parameter: its entries, or k directions; and the losses seen."""
    array = objective.params[name]
    if mode == "directional" and grad.shape == array.shape:
        directions = [random_direction(array.shape, rng) for _ in range(max(k, 1))]
        diffs = [direction_difference(objective, {name: v}, h, watch) for v in directions]
        labels = [_direction_label(j) for j in range(len(directions))]
        analytic_at = np.array([float(np.vdot(grad, v)) for v in directions])

        def probe(j: int, step: float) -> float:
            return direction_difference(objective, {name: directions[j]}, step).numeric
    else:  # entries (a shape mismatch in directional mode is diagnosed on a few entries)
        count = HINT_ENTRIES if mode == "directional" else k
        labels = all_indices(array.shape) if mode == "full" else sampled_indices(array.shape, count, rng)
        diffs = [entry_difference(objective, name, idx, h, watch) for idx in labels]
        analytic_at = (np.array([grad[idx] for idx in labels], dtype=np.float64)
                       if grad.shape == array.shape else np.zeros(len(labels)))

        def probe(j: int, step: float) -> float:
            return entry_difference(objective, name, labels[j], step).numeric
    raw = _Raw(name, array.shape, labels, analytic_at, np.array([d.numeric for d in diffs]),
               [d.kink for d in diffs], probe, None if grad.shape == array.shape else "shape")
    return raw, [v for d in diffs for v in (d.loss_plus, d.loss_minus)]


def _diagnose(objective: Objective, raw: _Raw, grad: np.ndarray, shown: str, *, mode: str,
              rng: np.random.Generator, floor: float, doubled: Optional[np.ndarray]) -> list[str]:
    """Hints for a failed parameter; directions are re-checked on entries (transposes need them)."""
    labels, a_at, n_at = raw.labels, raw.analytic_at, raw.numeric
    if mode == "directional":
        labels = sampled_indices(raw.shape, HINT_ENTRIES, rng)
        n_at = np.array([entry_difference(objective, raw.name, i, DEFAULT_H).numeric for i in labels])
        a_at = np.array([grad[i] for i in labels])
    return hinting.value_hints(shown, a_at, n_at, grad, labels, objective.batch_size, floor, doubled)


def check_objective(
    objective: Objective, *, mode: str, k: int, h: float, rng: np.random.Generator,
    sweep: bool = False,
) -> ObjectiveReport:
    """Compare analytic and numeric gradients of every parameter of one objective."""
    watch = KinkWatch(objective.kink_states) if objective.kink_states else None
    loss = float(objective.value())
    if watch is not None:
        watch.set_base()  # the kink states at θ
    analytic = {n: np.asarray(g, dtype=np.float64) for n, g in objective.gradients().items()
                if g is not None}
    losses = [loss]
    raws: list[_Raw] = []
    for name in objective.params:
        if name not in analytic:
            continue
        raw, seen = _difference(objective, name, analytic[name], mode=mode, k=k, h=h, rng=rng, watch=watch)
        raws.append(raw)
        losses.extend(seen)

    noise = noise_level(losses, h)  # known only once every loss has been seen
    floor = SMALL_FACTOR * noise
    checks = []
    for name, array in objective.params.items():
        if name not in analytic:
            message = f"backward did not set a gradient for '{name}'"
            checks.append(mismatch(objective.prefix + name, array.shape, None, message))
            checks[-1].hints.append(f"{objective.prefix + name}: {message}")
    doubled = None
    for raw in raws:
        grad, shown = analytic[raw.name], objective.prefix + raw.name
        if raw.shape_problem:
            hint = hinting.shape_hint(shown, grad, raw.shape, raw.labels, raw.numeric,
                                      objective.batch_size, floor)
            check = mismatch(shown, raw.shape, grad.shape, hint)
            check.hints.append(hint)
            checks.append(check)
            continue
        kinked = np.array([kk is not None for kk in raw.kinks], dtype=bool)
        check = judge(shown, raw.shape, raw.labels, raw.analytic_at, raw.numeric, kinked, noise)
        check.kink_details = [(lab, kk) for lab, kk in zip(raw.labels, raw.kinks) if kk is not None][:KINK_DETAILS]
        if check.status == "nonfinite":
            check.message = _nonfinite_message(shown, check, loss)
            check.hints = [check.message]
        elif not check.passed:
            if doubled is None and objective.rescaled is not None:
                doubled = objective.rescaled(2.0)  # backward is linear in dout: grads must double
            check.hints = _diagnose(objective, raw, grad, shown, mode=mode, rng=rng, floor=floor,
                                    doubled=None if doubled is None else doubled.get(raw.name))
        worst = raw.labels.index(check.worst_index) if check.worst_index in raw.labels else None
        check.probe = (raw.probe, worst)  # for the sweep
        checks.append(check)
    for check in checks:
        problem = objective.problems.get(check.name[len(objective.prefix):])
        if problem:
            check.status, check.message = "fail", f"{check.name}: {problem}"
            check.hints.insert(0, check.message)

    order = {objective.prefix + name: i for i, name in enumerate(objective.params)}
    checks.sort(key=lambda c: order.get(c.name, len(order)))
    report = ObjectiveReport(objective.label, loss, checks, noise, notes=list(objective.notes))
    if sweep:
        report.sweep = _sweep_worst(checks, DENOMINATOR_FACTOR * noise)  # the table's floor
    return report


def _nonfinite_message(name: str, check, loss: float) -> str:
    """Which value overflowed at the first non-finite entry, and what to try."""
    where = "" if check.worst_index == () else f" at {check.worst_index}"
    found = [f"{what} is {_plain(v)}" for what, v in
             (("the loss", loss), ("the analytic gradient", check.analytic),
              ("the numeric gradient", check.numeric)) if v is not None and not np.isfinite(v)]
    return (f"{name}{where}: {', '.join(found)}: an overflow (or a division by zero, a log of 0); "
            "lower the input scale or check the forward pass for overflow")


def _plain(value: float) -> str:
    return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")


def _sweep_worst(checks: list, floor: float) -> Optional[Sweep]:
    candidates = [c for c in checks if c.probe is not None and c.probe[1] is not None
                  and c.analytic is not None and np.isfinite(c.analytic)]
    if not candidates:
        return None
    worst = max(candidates, key=lambda c: (np.nan_to_num(c.max_rel_error, nan=np.inf)))
    probe, j = worst.probe
    return h_sweep(worst.name, worst.worst_index, worst.analytic, lambda step: probe(j, step), floor)


def run_gradcheck(
    objectives: list, *, mode: str = "auto", k: Optional[int] = None, h: Optional[float] = None,
    seed: int = 0, sweep: bool = False,
) -> GradcheckReport:
    """Check every objective; `mode='auto'` picks by the largest objective's size."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    used = mode if mode != "auto" else choose_mode(max((o.n_entries() for o in objectives), default=0))
    k = DEFAULT_K[used] if k is None else k
    if h is None:
        h = DIRECTIONAL_H if used == "directional" else DEFAULT_H
    rng = np.random.default_rng(seed)
    reports = [check_objective(o, mode=used, k=k, h=h, rng=rng, sweep=sweep) for o in objectives]
    return GradcheckReport(used, mode, h, k, seed, reports)
