"""Input files as the user named them: what a path is when it is not a regular file (a FIFO,
a device such as /dev/zero), and reading one with a byte budget checked before the read."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Optional

MiB = 2**20


def special_kind(path: Path) -> Optional[str]:
    """'a FIFO (named pipe)', 'a character device' ... for a path that exists and is neither a
    regular file nor a directory; None otherwise."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    for test, name in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return None


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; ValueError with the reason
    otherwise (too large: checked from its size before reading, and again while reading)."""
    kind = special_kind(path)
    if kind is not None:
        raise ValueError(f"is {kind}, not a {what}")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise ValueError(f"{what} is {size:,} bytes; the limit is {limit:,}")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{what} is more than {limit:,} bytes; the limit is {limit:,}")
    return data


def cut(text: str, limit: int = 80) -> str:
    """User text echoed in a message, cut to `limit` characters (with the count of the rest)."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"
