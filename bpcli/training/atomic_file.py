"""Files written whole or not at all: a temporary file in the same directory, then os.replace,
with the permissions an ordinary new file gets (0o666 minus the umask, not mkstemp's 0o600)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from bpcli.faults import crash_point


TMP_SUFFIX = ".tmp"


def remove_stale_temporaries(folder: Path | str) -> list[Path]:
    """Delete the temporary files a killed writer left in `folder` (only call it while owning
    the folder: another writer's temporary file looks the same)."""
    removed = []
    for tmp in Path(folder).glob(f".*{TMP_SUFFIX}"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def new_file_mode() -> int:
    """The mode open() gives a new file: 0o666 & ~umask (0o644 with the usual umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_writer(path: Path | str, *, fsync: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary file; on success it replaces `path`, on any error it is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            crash_point(f"{path.name}:opened")
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode())
        crash_point(f"{path.name}:written")
        os.replace(tmp, path)
        crash_point(f"{path.name}:replaced")
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
