"""A validated `data:` section that knows where the spec wrote each of its options, so an
error the dataset raises while loading (a missing file, options that do not fit, more
memory than allowed) names the spec's `file:line:col` like every other spec problem."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from bpcli.errors import DataError


class DataSection(dict):
    """{"type": NAME, **options} (a plain dict to every reader) plus `places`:
    option name -> "file:line:col" ("" for the section itself, "type" for its type)."""

    def __init__(self, section: dict, places: Optional[dict[str, str]] = None):
        super().__init__(section)
        self.places = dict(places or {})


def blamed_option(section: "DataSection", err: DataError) -> str:
    """The option written in the spec that an error is about: the one it names (`err.option`),
    else the first whose value (a file name) or whose name appears in the message, else the
    dataset's `type` ("" when even that is a default)."""
    written = [key for key in section.places if key and key != "type"]
    if getattr(err, "option", None) in section.places:
        return err.option
    message = err.message
    for key in written:
        value = section[key]
        if isinstance(value, str) and value and value in message:
            return key
    for key in written:
        if re.search(rf"(?<![\w.]){re.escape(key)}(?!\w)", message):
            return key
    return "type" if "type" in section.places else ""


@contextmanager
def placed_errors(section: Any) -> Iterator[None]:
    """Prefix a DataError raised inside with the spec's place of the option it is about."""
    try:
        yield
    except DataError as err:
        if not isinstance(section, DataSection) or getattr(err, "placed", False):
            raise
        key = blamed_option(section, err)
        place = section.places.get(key)
        if place:
            err.unplaced_message = err.message  # for text that names the data itself (`show`'s note)
            err.message = f"{place}: {'data.' + key if key else 'data'}: {err.message}"
            err.args = (err.message,)
        err.placed = True
        raise
