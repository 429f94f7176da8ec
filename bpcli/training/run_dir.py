"""A run directory: runs/NAME-TIMESTAMP/ (or --out DIR) holding

  spec.yaml            the resolved spec (every default filled in)
  metrics.jsonl        one JSON line per epoch (no clock times: equal runs give equal files)
  checkpoints/last.npz the latest state; checkpoints/best.npz the best weights so far
  summary.json         epochs, steps, train_seconds, run_dir, final {...} and more
  .lock                held (fcntl.flock) by the one process training in it; records its pid

The lock belongs to an open file, so the kernel drops it when its process dies, however it
dies: a lock left by a killed run never blocks a resume.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

import yaml

from bpcli.training.atomic_file import remove_stale_temporaries
from bpcli.errors import UsageError
from bpcli.faults import crash_point


class RunDir:
    """Paths and writers of one run's directory."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.spec_file = self.path / "spec.yaml"
        self.metrics_file = self.path / "metrics.jsonl"
        self.summary_file = self.path / "summary.json"
        self.checkpoints = self.path / "checkpoints"
        self.last = self.checkpoints / "last.npz"
        self.best = self.checkpoints / "best.npz"
        self.lock_file = self.path / ".lock"
        self._lock_fd: Optional[int] = None

    @classmethod
    def create(cls, name: str, out: Optional[Path | str] = None, root: Path | str = "runs") -> "RunDir":
        """A new run directory: `out` exactly, or root/NAME-YYYYmmdd-HHMMSS (made unique)."""
        if out is not None:
            run = cls(out)
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            base = Path(root) / f"{name}-{stamp}"
            candidate, n = base, 1
            while candidate.exists():
                n += 1
                candidate = base.with_name(f"{base.name}-{n}")
            run = cls(candidate)
        try:
            run.checkpoints.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot create run directory {run.path}: {_why(err, run.path)}") from None
        run.lock()
        if out is not None:
            try:
                run._refuse_existing_run()  # checked once it is ours: another run may be starting here
            except UsageError:
                run.unlock()
                raise
        return run

    def _refuse_existing_run(self) -> None:
        if self.last.exists():
            raise UsageError(f"{self.path} already holds a run; continue it with --resume {self.path} or pick another --out")
        if self.metrics_file.exists():
            raise UsageError(
                f"{self.path} holds a run stopped before its first checkpoint; start it again with "
                f"--resume {self.path} or pick another --out"
            )

    def lock(self) -> None:
        """Own this run directory until `unlock` (or the process ends): a usage error naming the
        pid of the process that owns it now. Clears temporary files left by killed saves."""
        import fcntl

        # held through a read-only descriptor: a run keeps no file open for writing between
        # saves (so the file system can be remounted read-only under it, say)
        try:
            fd = os.open(self.lock_file, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as err:
            raise UsageError(f"cannot write to the run directory {self.path}: {err.strerror or err}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise UsageError(
                f"{self.path} is in use by another bpcli process (pid {holder}); wait for it to end "
                "or pick another --out"
            ) from None
        try:
            self.lock_file.write_text(f"{os.getpid()}\n", encoding="ascii")
        except OSError as err:
            os.close(fd)
            raise UsageError(f"cannot write to the run directory {self.path}: {err.strerror or err}") from None
        self._lock_fd = fd
        for folder in (self.path, self.checkpoints):
            remove_stale_temporaries(folder)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @classmethod
    def existing(cls, path: Path | str) -> "RunDir":
        """An existing run to resume or evaluate; a usage error when it is not one."""
        run = cls(path)
        if not run.path.is_dir():
            raise UsageError(f"run directory not found: {run.path}")
        if not run.spec_file.is_file():
            raise UsageError(f"{run.path} is not a bpcli run directory (no spec.yaml)")
        return run

    def write_spec(self, spec: Dict[str, Any]) -> None:
        _atomic_write(self.spec_file, yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))

    def write_metrics(self, records: Iterable[Dict[str, Any]]) -> None:
        """Rewrite metrics.jsonl from a history (used when a run resumes)."""
        _atomic_write(self.metrics_file, "".join(json.dumps(r) + "\n" for r in records))

    def append_metrics(self, record: Dict[str, Any]) -> None:
        with open(self.metrics_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        crash_point("metrics.jsonl:appended")

    def read_metrics(self) -> list[Dict[str, Any]]:
        if not self.metrics_file.is_file():
            return []
        lines = self.metrics_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def write_summary(self, summary: Dict[str, Any]) -> None:
        _atomic_write(self.summary_file, json.dumps(summary, indent=2) + "\n")

    def read_summary(self) -> Optional[Dict[str, Any]]:
        if not self.summary_file.is_file():
            return None
        return json.loads(self.summary_file.read_text(encoding="utf-8"))


def _why(err: OSError, path: Path) -> str:
    """The reason a directory could not be made, in words (an existing file on the way, ...)."""
    if isinstance(err, (FileExistsError, NotADirectoryError)):
        blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return f"{blocker} exists and is not a directory"
    return err.strerror or str(err)


def _atomic_write(path: Path, text: str) -> None:
    from bpcli.training.atomic_file import atomic_writer

    with atomic_writer(path) as f:
        f.write(text.encode("utf-8"))
