"""A sweep on screen: a live table of trials on a terminal, one plain line per finished trial
when piped, and the final report (best trials, best.yaml, border warnings, narrower ranges, the
learning-rate x regularization scatter)."""

from __future__ import annotations

import math
from typing import Optional

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bpcli.sweep.report import SweepReport, TrialRow, trial_rows, value_text
from bpcli.sweep.space import SearchParam

STATE_STYLE = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red", "RUNNING": "cyan"}
STATE_WORD = {"COMPLETE": "done", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running"}


def short_names(params: list[SearchParam]) -> dict[str, str]:
    """Column names: the last part of each key ('optimizer.lr' -> 'lr'), the whole key where
    two would be the same."""
    last = [p.name.rsplit(".", 1)[-1] for p in params]
    return {p.name: (s if last.count(s) == 1 else p.name) for p, s in zip(params, last)}


def trial_line(row: TrialRow, params: list[SearchParam], metric: str, width: int = 10_000) -> str:
    """'trial 3  done  lr=0.0123 strength=1.2e-05  val_accuracy 0.9533  12 epochs  1.3 s', on
    lines of at most `width` columns broken only between fields (a value never leaves its name)."""
    from bpcli.render.progress import pack_fields

    names = short_names(params)
    values = [f"{names[p.name]}={value_text(row.params[p.name])}" for p in params if p.name in row.params]
    parts = [f"trial {row.number}", STATE_WORD.get(row.state, row.state.lower()), *values]
    if row.value is not None:
        parts.append(f"{metric} {row.value:.4f}")
    if row.epochs:
        parts.append(f"{row.epochs} epochs")
    if row.seconds is not None:
        parts.append(f"{row.seconds:.1f} s")
    if row.state in ("FAIL", "PRUNED") and row.reason:
        parts.append(row.reason)
    return pack_fields([p for p in parts if p], width)


def trials_table(rows: list[TrialRow], params: list[SearchParam], metric: str, title: str = "",
                 limit: Optional[int] = None, width: int = 200) -> Table:
    """Trials as a table that fits `width` columns: on a narrow terminal the epochs and time
    columns go first, then the metric's header shortens; no cell is ever cut."""
    from rich import box

    names = short_names(params)
    shown = rows if limit is None else rows[-limit:]
    columns = [("trial", "right", [str(r.number) for r in shown])]
    columns.append(("state", "left", [STATE_WORD.get(r.state, r.state.lower()) for r in shown]))
    for p in params:
        columns.append((names[p.name], "right", [value_text(r.params[p.name]) if p.name in r.params else "" for r in shown]))
    columns.append((metric, "right", ["" if r.value is None else f"{r.value:.4f}" for r in shown]))
    columns.append(("epochs", "right", ["" if not r.epochs else str(r.epochs) for r in shown]))
    columns.append(("time", "right", ["" if r.seconds is None else f"{r.seconds:.1f}s" for r in shown]))

    def needed(cols) -> int:
        return sum(max([len(h), *map(len, cells)]) for h, _, cells in cols) + 3 * len(cols)

    for drop in ("time", "epochs"):
        if needed(columns) > width:
            columns = [c for c in columns if c[0] != drop]
    if needed(columns) > width:
        short = metric.replace("accuracy", "acc")
        columns = [(short if h == metric else h, j, cells) for h, j, cells in columns]
    table = Table(title=title or None, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, padding=(0, 1))
    for header, justify, _ in columns:
        table.add_column(header, justify=justify, overflow="fold")
    for i, r in enumerate(shown):
        cells = [c[2][i] for c in columns]
        cells[1] = Text(cells[1], style=STATE_STYLE.get(r.state, ""))
        table.add_row(*cells)
    return table


class SweepProgress:
    """on_start / on_change / close for `sweep()`: Live on a terminal, lines when piped,
    nothing with json (which goes to stdout at the end alone)."""

    def __init__(self, console: Console, live: bool, quiet: bool = False):
        self.console, self.live_mode, self.quiet = console, live, quiet
        self.cfg = None
        self.params: list = []
        self._printed: set = set()
        self._live: Optional[Live] = None

    def on_start(self, cfg, sweep_dir, resumed: bool) -> None:
        self.cfg = cfg
        _, self.params = cfg.split()
        if self.quiet:
            return
        verb = "resuming" if resumed else "sweep"
        self.console.print(
            f"{verb} {cfg.study}: {cfg.n_trials} trials of {cfg.spec}, {cfg.workers} worker"
            f"{'s' if cfg.workers != 1 else ''}, {cfg.sampler} sampler{', pruning' if cfg.prune else ''}, "
            f"objective {cfg.metric} ({cfg.direction}); directory {sweep_dir}",
            markup=False, highlight=False,
        )
        if self.live_mode:
            self._live = Live(console=self.console, auto_refresh=False, transient=False)
            self._live.start()

    def on_change(self, trials) -> None:
        if self.quiet or self.cfg is None:
            return
        rows = trial_rows(trials)
        if self._live is not None:
            self._live.update(self._live_view(rows), refresh=True)
            return
        for r in rows:
            if r.state != "RUNNING" and r.number not in self._printed:
                self._printed.add(r.number)
                self.console.print(trial_line(r, self.params, self.cfg.metric, self.console.width), markup=False,
                                   highlight=False, soft_wrap=True)

    def _live_view(self, rows: list[TrialRow]):
        cfg = self.cfg
        done = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
        best = (max if cfg.direction == "maximize" else min)(done, key=lambda r: r.value) if done else None
        finished = sum(1 for r in rows if r.state != "RUNNING")
        head = f"{finished}/{cfg.n_trials} trials finished, {sum(r.state == 'RUNNING' for r in rows)} running"
        if best is not None:
            head += f"; best {cfg.metric} {best.value:.4f} (trial {best.number})"
        limit = max(3, self.console.size.height - 8)
        return Group(Text(head), trials_table(rows, self.params, cfg.metric, limit=limit, width=self.console.size.width))

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def render_report(console: Console, report: SweepReport, color: bool) -> None:
    """The end of a sweep: best trials, best.yaml, warnings, the next sweep, the scatter."""
    metric = report.metric
    counts = report.counts()
    summary = ", ".join(f"{n} {STATE_WORD.get(k.upper(), k)}" for k, n in sorted(counts.items()))
    console.print(f"\n{report.config.study}: {summary or 'no trials'}", markup=False, highlight=False)
    if report.best:
        console.print(trials_table(report.best, report.params, metric, title=f"best trials by {metric}", width=console.size.width))
    else:
        console.print("no trial finished, so there is no best one", markup=False, highlight=False)
    for row in (r for r in report.rows if r.state == "FAIL"):
        console.print(f"trial {row.number} failed: {row.reason}", markup=False, highlight=False, style="red" if color else None)
    if report.best_yaml is not None:
        console.print(f"best spec: {report.best_yaml}  (train it: bpcli train {report.best_yaml})", markup=False, highlight=False)
        if report.best[0].run_dir:
            console.print(f"best run:  {report.best[0].run_dir}", markup=False, highlight=False)
    for warning in report.warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False, style="yellow" if color else None)
    if report.suggestions:
        console.print("a finer sweep around the best trials:", markup=False, highlight=False)
        console.print(f"  {report.next_command()}", markup=False, highlight=False, soft_wrap=True)
    scatter = sweep_scatter(report, color=color)
    if scatter is not None:
        console.print(scatter)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def scatter_axes(params: list[SearchParam]) -> list[SearchParam]:
    """The two parameters of the scatter: the learning rate and the regularization strength
    when both are searched (the course's picture), else the first two numeric ones (or one)."""
    numeric = [p for p in params if p.numeric]
    lr = next((p for p in numeric if p.name.endswith(".lr") or p.name == "lr"), None)
    reg = next((p for p in numeric if p.name.startswith("regularization.")), None)
    if lr and reg:
        return [lr, reg]
    return numeric[:2]


def _axis(p: SearchParam, value: float) -> float:
    return math.log10(value) if p.log else float(value)


def sweep_scatter(report: SweepReport, *, width: int = 48, height: int = 14, color: bool = True) -> Optional[Text]:
    """Completed trials on the (x, y) plane of `scatter_axes` (log axes for loguniform), each
    a digit 0-9: its metric's place between the worst (0) and the best (9) trial; * the best.
    With one numeric parameter, y is the metric itself."""
    axes = scatter_axes(report.params)
    done = [r for r in report.rows if r.state == "COMPLETE" and r.value is not None and all(a.name in r.params for a in axes)]
    if not axes or len(done) < 2:
        return None
    maximize = report.config.direction == "maximize"
    values = [r.value for r in done]
    lo_v, hi_v = min(values), max(values)
    span_v = (hi_v - lo_v) or 1.0
    score = lambda v: (v - lo_v) / span_v if maximize else (hi_v - v) / span_v  # noqa: E731
    xp = axes[0]
    xs = [_axis(xp, r.params[xp.name]) for r in done]
    x_lo, x_hi = _axis(xp, xp.low), _axis(xp, xp.high)
    if len(axes) > 1:
        yp = axes[1]
        ys = [_axis(yp, r.params[yp.name]) for r in done]
        y_lo, y_hi, y_label = _axis(yp, yp.low), _axis(yp, yp.high), _label(yp)
    else:
        ys, y_lo, y_hi, y_label = values, lo_v, hi_v if hi_v > lo_v else lo_v + 1, report.metric
    grid = [[" "] * width for _ in range(height)]
    styles = [[""] * width for _ in range(height)]
    best = report.best[0].number if report.best else None
    order = sorted(range(len(done)), key=lambda i: score(values[i]))  # better trials drawn last, on top
    for i in order:
        col = min(width - 1, max(0, round((xs[i] - x_lo) / ((x_hi - x_lo) or 1) * (width - 1))))
        row = min(height - 1, max(0, round((y_hi - ys[i]) / ((y_hi - y_lo) or 1) * (height - 1))))
        s = score(values[i])
        grid[row][col] = "*" if done[i].number == best else str(min(9, int(s * 10)))
        styles[row][col] = "bold magenta" if done[i].number == best else _heat(s)
    text = Text()
    text.append(f"{report.metric} of each trial over {y_label} (up) and {_label(xp)} (right)\n")
    top, bottom = _tick(axes[1] if len(axes) > 1 else None, y_hi), _tick(axes[1] if len(axes) > 1 else None, y_lo)
    margin = max(len(top), len(bottom))
    for r in range(height):
        label = top if r == 0 else bottom if r == height - 1 else ""
        text.append(f"{label:>{margin}} |")
        for c in range(width):
            text.append(grid[r][c], style=(styles[r][c] or None) if color else None)
        text.append("\n")
    left, right = _tick(xp, x_lo), _tick(xp, x_hi)
    text.append(" " * margin + " +" + "-" * width + "\n")
    text.append(" " * (margin + 2) + left + " " * max(1, width - len(left) - len(right)) + right + "\n")
    text.append(f"digits: {report.metric} from worst (0) to best (9) of the sweep ({_fmt(lo_v)} .. {_fmt(hi_v)}); * the best trial")
    return text


def _label(p: SearchParam) -> str:
    return f"{p.name} ({'log scale' if p.log else 'linear'})"


def _tick(p: Optional[SearchParam], v: float) -> str:
    if p is None:
        return _fmt(v)
    return f"{10 ** v:.2g}" if p.log else f"{v:.3g}"


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _heat(s: float) -> str:
    return "red" if s < 0.34 else "yellow" if s < 0.67 else "green"
