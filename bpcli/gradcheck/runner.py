"""Run a gradient check on objectives: pick indices or directions, difference, judge, hint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from bpcli.gradcheck import hints as hinting
from bpcli.gradcheck.compare import SMALL_FACTOR, Tolerance, judge, mismatch, noise_level, tolerance_for
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
    notes: list = field(default_factory=list)  # problems: the objective fails
    info: list = field(default_factory=list)  # how it was checked (arguments copied ...)
    tolerance: Optional[Tolerance] = None
    h: Optional[float] = None

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
    def max_rel_error(self) -> float:
        """The largest relative error among the judged checks (ok, warn, fail)."""
        errors = [c.max_rel_error for c in self.checks if c.status in ("ok", "warn", "fail")]
        return max(errors, default=0.0)

    @property
    def dtype(self) -> str:
        return self.objectives[0].tolerance.dtype if self.objectives and self.objectives[0].tolerance else "float64"

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
            extra.append(f"warn: error above {self.objectives[0].tolerance.ok:g}, look closer")
        kinks = sum(c.kinks for c in checks)
        if kinks:
            extra.append(f"{_count(kinks, 'difference')} crossed a kink (judged by the one-sided "
                         "derivatives on either side)")
        if by_status.get("small"):
            level = max(o.noise for o in self.objectives) * SMALL_FACTOR
            extra.append(f"small: both gradients below the round-off level (~{level:.0e} at "
                         f"h={self.h:g}), not judged — try --h-sweep")
        if by_status.get("zero"):
            extra.append("zero: the loss does not depend on it here (both gradients are 0 up to "
                         "round-off, e.g. a bias that batchnorm subtracts away)")

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
    one_sided: Optional[tuple] = None  # (D−, D+) per entry


def _difference(objective: Objective, name: str, grad: np.ndarray, *, mode: str, k: int, h: float,
                rng: np.random.Generator, watch: Optional[KinkWatch], loss: float) -> tuple[_Raw, list]:
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
               [d.kink for d in diffs], probe, None if grad.shape == array.shape else "shape",
               one_sided=(np.array([(loss - d.loss_minus) / d.down for d in diffs]),
                          np.array([(d.loss_plus - loss) / d.up for d in diffs])))
    return raw, [v for d in diffs for v in (d.loss_plus, d.loss_minus)]


def _diagnose(objective: Objective, raw: _Raw, grad: np.ndarray, shown: str, *, mode: str,
              rng: np.random.Generator, floor: float, doubled: Optional[np.ndarray],
              h: float) -> list[str]:
    """Hints for a failed parameter; directions are re-checked on entries (transposes need them)."""
    labels, a_at, n_at = raw.labels, raw.analytic_at, raw.numeric
    if mode == "directional":
        labels = sampled_indices(raw.shape, HINT_ENTRIES, rng)
        n_at = np.array([entry_difference(objective, raw.name, i, h).numeric for i in labels])
        a_at = np.array([grad[i] for i in labels])
    values = np.array([objective.params[raw.name][i] for i in labels], dtype=np.float64)
    found = hinting.value_hints(shown, a_at, n_at, grad, labels, objective.batch_size, floor,
                                doubled, values=values)
    if not found and objective.output is not None and objective.upstream is not None:
        if _diagonal_only(objective, raw.name, floor, h):
            found.append(hinting.diagonal_hint(shown))
    if objective.rebatch is not None and objective.batch_size and not any("batch size" in f for f in found):
        if _passes_with_one_example(objective, raw.name):
            found.append(hinting.batch_one_hint(shown, objective.batch_size))
    return found


def _passes_with_one_example(objective: Objective, name: str) -> bool:
    """The same check on the first example alone: does this gradient pass there?"""
    try:
        single = objective.rebatch(1)
        report = check_objective(single, mode="full", k=0, h=None, rng=np.random.default_rng(0),
                                 diagnose=False)
    except Exception:  # the code under test may not support one example: no hint, no crash
        return False
    # "ok" only: a gradient that is zero or below round-off with one example says nothing
    return any(c.name == objective.prefix + name and c.status == "ok" for c in report.checks)


DIAGONAL_MAX = 64  # entries of a parameter the Jacobian probe differentiates (per output row)


def _diagonal_only(objective: Objective, name: str, floor: float, h: float) -> bool:
    """With dout = e_p (a row of the Jacobian), is the analytic gradient zero off the diagonal,
    where the numeric ∂out_p/∂θ_j (j ≠ p) is not?"""
    array = objective.params[name]
    out = np.asarray(objective.output())
    if out.shape != array.shape or array.size > DIAGONAL_MAX:
        return False
    seen_cross = False
    for flat in range(min(3, out.size)):
        p = np.unravel_index(flat * max(1, out.size // 3), out.shape)
        onehot = np.zeros(out.shape)
        onehot[p] = 1.0
        analytic = np.asarray(objective.upstream(onehot).get(name), dtype=np.float64)
        numeric = np.zeros(array.shape)
        for idx in np.ndindex(*array.shape):
            old = float(array[idx])
            array[idx] = old + h
            plus = float(np.asarray(objective.output())[p])
            array[idx] = old - h
            minus = float(np.asarray(objective.output())[p])
            array[idx] = old
            numeric[idx] = (plus - minus) / (2 * h)
        scale = max(float(np.max(np.abs(numeric))), 1e-300)
        off = np.ones(array.shape, dtype=bool)
        off[p] = False
        if np.any(np.abs(analytic[off]) > 1e-9 * scale):
            return False
        seen_cross |= bool(np.any(np.abs(numeric[off]) > 1e-6 * scale))
    objective.value()  # leave the objective evaluated at θ
    return seen_cross


def check_objective(
    objective: Objective, *, mode: str, k: int, h: Optional[float], rng: np.random.Generator,
    sweep: bool = False, diagnose: bool = True,
) -> ObjectiveReport:
    """Compare analytic and numeric gradients of every parameter of one objective."""
    tol = tolerance_for(objective.dtype)
    if h is None:
        h = tol.directional_h if mode == "directional" else tol.h
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
        raw, seen = _difference(objective, name, analytic[name], mode=mode, k=k, h=h, rng=rng, watch=watch,
                                loss=loss)
        raws.append(raw)
        losses.extend(seen)

    noise = noise_level(losses, h, tol.eps)  # known only once every loss has been seen
    floor = SMALL_FACTOR * noise
    scale = max((float(np.max(np.abs(g))) for g in analytic.values() if g.size), default=0.0)
    reference = objective.reference() if objective.reference is not None else {}
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
        several = np.array([kk is not None and sum(kk.counts.values()) > 1 for kk in raw.kinks], dtype=bool)
        check = judge(shown, raw.shape, raw.labels, raw.analytic_at, raw.numeric, kinked, noise,
                      one_sided=raw.one_sided, tol=tol, scale=scale, several=several)
        check.kink_details = [(lab, kk) for lab, kk in zip(raw.labels, raw.kinks) if kk is not None][:KINK_DETAILS]
        if raw.name in reference and np.shape(reference[raw.name]) == grad.shape:
            check.precision = _precision(grad, np.asarray(reference[raw.name], dtype=np.float64))
        if check.status == "nonfinite":
            check.message = _nonfinite_message(shown, check, loss)
            check.hints = [check.message]
        elif check.status == "fail" and check.one_sided is not None:
            lo, hi = sorted(check.one_sided)
            check.hints = [f"{shown}{_where(check.worst_index)}: at a kink the analytic value "
                           f"{check.analytic:.6g} lies outside the one-sided derivatives "
                           f"[{lo:.6g}, {hi:.6g}] on either side of it: not a valid subgradient"]
        elif not check.passed and diagnose:
            if doubled is None and objective.rescaled is not None:
                doubled = objective.rescaled(2.0)  # backward is linear in dout: grads must double
            check.hints = _diagnose(objective, raw, grad, shown, mode=mode, rng=rng, floor=floor,
                                    doubled=None if doubled is None else doubled.get(raw.name), h=h)
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
    report = ObjectiveReport(objective.label, loss, checks, noise, notes=list(objective.notes),
                             info=list(objective.info), tolerance=tol, h=h)
    if sweep:
        report.sweep = _sweep_worst(checks, tol.denominator_factor * noise)  # the table's floor
    return report


def _where(index) -> str:
    if index is None or index == ():
        return ""
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if isinstance(index, tuple) else f" {index}"


def _precision(low: np.ndarray, high: np.ndarray) -> float:
    """max|g_low − g_high| / max|g_high|: how far the low-precision analytic gradient is off."""
    top = float(np.max(np.abs(high))) if high.size else 0.0
    return 0.0 if top == 0 else float(np.max(np.abs(low - high))) / top


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
    rng = np.random.default_rng(seed)
    reports = [check_objective(o, mode=used, k=k, h=h, rng=rng, sweep=sweep) for o in objectives]
    used_h = h if h is not None else (reports[0].h if reports else DEFAULT_H)
    return GradcheckReport(used, mode, used_h, k, seed, reports)
