"""`bpcli trace` as Rich tables: inputs, forward pass, backward pass, gradients with checks.

Fits in about 100 columns. Big graphs are summarized (first and last rows) and say so.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from bpcli.expr.ops import OPS
from bpcli.expr.printer import short_texts
from bpcli.expr.report import TraceReport
from bpcli.render.fit import fit_table
from bpcli.render.trace_numbers import local_formula, num, precise, product_text, short_role

ROW_LIMIT = 200  # more nodes than this: show the first and last HEAD_ROWS rows only
HEAD_ROWS = 30
TEXT_WIDTH = 60  # longer sub-expressions are named by their node (n12)
MAX_CHECK_ROWS = 100


def _shown(count: int) -> tuple[range, range]:
    if count <= ROW_LIMIT:
        return range(count), range(0)
    return range(HEAD_ROWS), range(count - HEAD_ROWS, count)


def _omitted_row(table: Table, columns: int) -> None:
    """A row of ⋮ where rows were left out (the count goes in the caption: one short line)."""
    table.add_row(*([Text("⋮", style="dim")] * columns))


def _note_omitted(table: Table, hidden: int, what: str) -> None:
    if hidden > 0:
        table.caption = f"⋮ {hidden:,} more {what} (--format json lists all)"
        table.caption_justify = "left"
        table.min_width = max(table.min_width or 0, len(table.caption))  # one line, unwrapped


def _header(report: TraceReport) -> Group:
    graph = report.graph
    expression = (
        report.expression if len(report.expression) <= 300 else report.expression[:300] + " …"
    )
    lines = [Text.assemble(("f = ", "bold"), expression)]
    given = [f"{name} = {num(v)}" for name, v in report.inputs.items() if name not in report.drawn]
    drawn = [f"{name} = {num(report.inputs[name])}" for name in report.drawn]
    if len(graph.variables) > 60:
        given, drawn = given[:30] + ["…"] if given else given, (
            drawn[:30] + ["…"] if drawn else drawn
        )
    if given:
        lines.append(Text("inputs: " + ", ".join(given)))
    if drawn:
        lines.append(Text(f"drawn (--seed {report.seed}): " + ", ".join(drawn), style="cyan"))
    if not graph.variables:
        lines.append(Text("no variables: the expression is a constant"))
    gates = sum(1 for n in graph.nodes if not n.is_leaf)
    mode = "expanded into primitive gates (--expand)" if report.expanded else "fused gates"
    nodes = f"{len(graph):,} node" + ("s" if len(graph) != 1 else "")
    lines.append(Text(f"{nodes}, {gates:,} gate{'s' if gates != 1 else ''}, {mode}", style="dim"))
    return Group(*lines)


def forward_table(report: TraceReport) -> Table:
    graph, values = report.graph, report.trace.values
    texts = short_texts(graph, TEXT_WIDTH) if len(graph) <= ROW_LIMIT else None
    table = Table(
        title="Forward pass (topological order)", box=box.SIMPLE_HEAD, title_justify="left"
    )
    table.add_column("node")
    table.add_column("gate")
    table.add_column("inputs")
    table.add_column("value", justify="right")
    if texts is not None:
        table.add_column("expression", overflow="fold", max_width=TEXT_WIDTH)
    head, tail = _shown(len(graph))
    for part, rows in enumerate((head, tail)):
        if part == 1 and len(rows):
            _omitted_row(table, len(table.columns))
        for i in rows:
            node = graph.nodes[i]
            gate = (
                "input"
                if node.op == "var"
                else ("const" if node.op == "const" else graph.gate_label(i))
            )
            inputs = ", ".join(graph.label(c) for c in node.inputs)
            row = [graph.label(i), gate, inputs, num(values[i])]
            if texts is not None:
                row.append(texts[i] if node.op not in ("var", "const") else "")
            style = "bold" if i == graph.output else None
            table.add_row(*row, style=style)
    _note_omitted(table, len(graph) - len(head) - len(tail), "nodes")
    return table


def backward_table(report: TraceReport) -> Table:
    """One row per (gate, input): upstream × local = sent down; a fork's row adds `x += …`.

    Six columns, so the sigmoid neuron fits 80 columns without wrapping a row; an input's
    gradient equals what was sent down unless a fork accumulated, and only then is shown.
    """
    graph, trace = report.graph, report.trace
    title = "Backward pass (reverse order): sent down = upstream × local gradient"
    table = Table(
        title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, min_width=len(title)
    )
    table.add_column("gate", no_wrap=True)
    table.add_column("role", no_wrap=True)
    table.add_column("upstream", justify="right", no_wrap=True)
    table.add_column("to", no_wrap=True)
    table.add_column("local gradient", overflow="fold")
    table.add_column("sent down", overflow="fold")
    steps = trace.steps
    head, tail = _shown(len(steps))
    for part, rows in enumerate((head, tail)):
        if part == 1 and len(rows):
            _omitted_row(table, 6)
        for k in rows:
            step = steps[k]
            node = graph.nodes[step.node]
            role = short_role(graph, step.node)
            if OPS[node.op].routes:
                won = [graph.label(node.inputs[s.position]) for s in step.inputs if s.local == 1.0]
                role = f"{role} → {won[0]}" if won else role
            gate = f"{graph.label(step.node)} {graph.gate_label(step.node)}"
            if not step.inputs:
                table.add_row(
                    gate, role, num(step.upstream), "", Text("(constants only)", style="dim"), ""
                )
            for j, sent in enumerate(step.inputs):
                to = graph.label(sent.node)
                formula = local_formula(graph, step.node, sent)
                up_text, local_text, sent_text = product_text(step.upstream, sent.local, sent.sent)
                local = Text(  # Text, not str: `[x won]` is a formula, not Rich markup
                    formula if formula == local_text else f"{formula} = {local_text}"
                )
                down = Text(f"{up_text}×{local_text} = {sent_text}")
                if sent.accumulated:
                    down.append(f"\n{to} += {sent_text} → {num(sent.total)}", "bold magenta")
                first = j == 0
                table.add_row(
                    gate if first else "",
                    role if first else "",
                    num(step.upstream) if first else "",
                    to,
                    local,
                    down,
                    end_section=j == len(step.inputs) - 1 and len(graph) <= 60,
                )
    _note_omitted(table, len(steps) - len(head) - len(tail), "gates")
    return table


def roles_legend(report: TraceReport) -> Text:
    """Each role used, once, named by the gates as the table labels them: `* switches: …`,
    `+, +1 distributes: …`, `*-1 flips: …`."""
    graph = report.graph
    labels_of_role: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.is_leaf:
            continue
        labels = labels_of_role.setdefault(graph.role(node.id), [])
        label = graph.gate_label(node.id)
        if label not in labels:
            labels.append(label)
    text = Text("Gate roles: ", style="dim")
    text.append(
        "; ".join(f"{', '.join(labels)} {role}" for role, labels in labels_of_role.items()),
        style="dim",
    )
    return text


def gradients_table(report: TraceReport) -> Table:
    table = Table(
        title="Gradients: backprop vs central difference (f(v+h) - f(v-h))/2h",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    table.add_column("variable")
    table.add_column("value", justify="right")
    table.add_column("∂f/∂v (backprop)", justify="right")
    table.add_column("numeric", justify="right")
    table.add_column("rel. error", justify="right")
    table.add_column("check")
    uses = report.uses
    checks = {c.name: c for c in report.checks} if report.checks is not None else {}
    gradients = report.trace.gradients
    names = report.graph.variables
    for name in names[:MAX_CHECK_ROWS]:
        label = name + (f" (×{uses[name]}, summed)" if uses[name] > 1 else "")
        check = checks.get(name)
        if check is None:
            table.add_row(
                label, num(report.inputs[name]), precise(gradients[name]), "—", "—", "skipped"
            )
            continue
        style = {"ok": "green", "kink": "yellow"}.get(check.status, "bold red")
        table.add_row(
            label,
            num(report.inputs[name]),
            precise(check.analytic),
            precise(check.numeric),
            f"{check.rel_error:.1e}",
            Text(check.status, style=style),
        )
    if len(names) > MAX_CHECK_ROWS:
        _omitted_row(table, len(table.columns))
        _note_omitted(table, len(names) - MAX_CHECK_ROWS, "variables")
    return table


def render_rich(report: TraceReport, console: Console) -> None:
    """Print the whole trace to `console`."""
    console.print(_header(report))
    console.print(fit_table(forward_table(report), console.width))
    if report.trace.steps:
        console.print(fit_table(backward_table(report), console.width, break_before=("to",)))
        if len(report.graph) <= ROW_LIMIT:
            console.print(roles_legend(report))
    else:
        console.print(
            Text("Backward pass: no gates (f is a single variable or constant)", style="dim")
        )
    f = report.trace.output
    console.print(Text.assemble(("f = ", "bold"), (precise(f), "bold")))
    if report.graph.variables:
        console.print(fit_table(gradients_table(report), console.width))
    if any(c.status == "kink" for c in report.checks or ()):
        console.print(
            Text(
                "kink: a relu/abs/max/min gate sits at (or within h of) its corner here, so the "
                "one-sided derivatives differ and the central difference averages them.",
                style="yellow",
            )
        )
    if len(report.graph) > ROW_LIMIT:
        console.print(
            Text(
                f"Large graph: {len(report.graph):,} nodes; the tables show the first and last "
                f"{HEAD_ROWS} rows. --format json lists every node and step.",
                style="dim",
            )
        )
    for note in report.notes:
        console.print(Text(note, style="dim"))
