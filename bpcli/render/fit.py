"""Tables that never cut a number: a Rich table as it is when it fits the width, else stacked.

Rich squeezes a table that is too wide by folding cells mid-word (`-0.1966…`, `paramet…`).
`fit_table` renders the table at the console's width and compares its words with an unlimited
rendering; when a word was cut or split, each row is shown instead as a record of
`header value` fields packed onto lines, breaking only between fields (a field longer than
the width wraps at its spaces).
"""

from __future__ import annotations

import io
import re

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

WIDE = 1000
_BOX_CHARACTERS = re.compile(r"[\s─━│┃┌┐└┘├┤┬┴┼╭╮╯╰═║╴╶╷╵]+")


def _plain(renderable, width: int) -> str:
    console = Console(
        width=width, file=io.StringIO(), color_system=None, force_terminal=False,
        legacy_windows=False, highlight=False, soft_wrap=False,
    )
    console.print(renderable)
    return console.file.getvalue()


def _words(text: str) -> set[str]:
    return set(_BOX_CHARACTERS.split(text)) - {""}


def fits(renderable, width: int) -> bool:
    """True when `renderable` at `width` columns shows every word of its unlimited rendering
    whole: no word cut with '…' or split across lines."""
    narrow = _plain(renderable, width)
    if "…" in narrow and "…" not in _plain(renderable, WIDE):
        return False
    return _words(narrow) <= _words(_plain(renderable, WIDE))


def _cell_text(console: Console, cell) -> Text:
    if isinstance(cell, Text):
        return cell.copy()
    if isinstance(cell, str):
        return console.render_str(cell, markup=False, highlight=False)
    return Text(str(cell))


class StackedTable:
    """A table's rows as records: the first column leads (bold), then `header value` fields,
    packed onto lines of at most the console's width and broken only between fields."""

    def __init__(self, table: Table, break_before: tuple[str, ...] = ()):
        self.table = table
        self.break_before = break_before  # headers whose field always starts a line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table, width = self.table, options.max_width
        if table.title:
            yield _cell_text(console, table.title).copy()
            yield Text("")
        columns = table.columns
        headers = [_cell_text(console, c.header).plain.replace("\n", " ") for c in columns]
        for row_index in range(table.row_count):
            cells = [_cell_text(console, c._cells[row_index]) for c in columns]
            lead = cells[0].plain.strip()
            if lead and row_index:
                yield Text("")
            fields: list[Text] = []
            for header, cell in zip(headers[1:], cells[1:]):
                parts = cell.split("\n")
                for k, part in enumerate(parts):
                    if not part.plain.strip():
                        continue
                    field = Text("\n" if k == 0 and header in self.break_before else "")
                    if k == 0 and header:
                        field.append(header + " ", style="dim")
                    field.append_text(part)
                    fields.append(field)
            indent = "" if lead else "  "
            line = Text(indent)
            if lead:
                line.append(lead, style="bold")
            nested = False  # after a forced break (`to x1`), wrapped lines sit under that line's start
            for field in fields:
                gap = "  " if line.plain.strip() else ""
                forced = field.plain.startswith("\n")
                if forced:
                    field = field[1:]
                if line.plain.strip() and (forced or len(line) + len(gap) + len(field) > width):
                    yield line
                    deeper = "  " if nested and not forced else ""
                    line = Text(indent + "  " + deeper)
                    nested = nested or forced
                    gap = ""
                line.append(gap)
                line.append_text(field)
            yield line
        if table.caption:
            yield _cell_text(console, table.caption)


def without_columns(table: Table, headers: tuple[str, ...]) -> Table:
    """A copy of `table` without the columns whose header is in `headers`."""
    import copy

    narrower = copy.deepcopy(table)
    narrower.columns = [c for c in narrower.columns if str(c.header) not in headers]
    for index, column in enumerate(narrower.columns):
        column._index = index
    return narrower


def fit_table(
    table: Table,
    width: int,
    break_before: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
):
    """`table` when it fits `width` without cutting a word; else without its `optional`
    columns, when that fits; else the table stacked (every column, as records)."""
    if fits(table, width):
        return table
    if optional:
        narrower = without_columns(table, optional)
        if fits(narrower, width):
            return narrower
    return StackedTable(table, break_before)
