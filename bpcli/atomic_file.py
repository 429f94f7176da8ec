"""Files written whole or not at all: a temporary file in the same directory, then os.replace,
with the permissions an ordinary new file gets (0o666 minus the umask, not mkstemp's 0o600)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator


def new_file_mode() -> int:
    """The mode open() gives a new file: 0o666 & ~umask (0o644 with the usual umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_writer(path: Path | str, *, fsync: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary file; on success it replaces `path`, on any error it is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
