"""Where a study lives: a journal file in the sweep directory (the default), a journal file
elsewhere (a shared file system), or a database URL (PostgreSQL, MySQL, SQLite) through
Optuna's RDBStorage. Every storage gets heartbeats, so a trial whose worker was killed is
marked failed instead of running forever."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

from bpcli.errors import UsageError

JOURNAL_NAME = "study.journal"
HEARTBEAT_KEY = "bpcli:heartbeat"
INSTALL_HINT = "bpcli sweep needs Optuna: pip install 'bpcli[sweep]' (or pip install optuna)"


def require_optuna():
    """The optuna module, or a usage error saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # we run heartbeats around ask/tell ourselves (bpcli/sweep/trial.py), not inside optimize()
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    return optuna


def heartbeat_timing() -> tuple[int, int]:
    """(seconds between heartbeats, seconds of silence before a running trial is failed).
    BPCLI_SWEEP_HEARTBEAT=N sets the interval (the grace period is five intervals: a loaded
    machine may delay a beat or two)."""
    text = os.environ.get("BPCLI_SWEEP_HEARTBEAT", "")
    interval = int(text) if text.isdigit() and int(text) > 0 else 5
    return interval, 5 * interval


def is_database_url(url: str) -> bool:
    return "://" in url


def journal_path(storage: Optional[str], sweep_dir: Path) -> Optional[Path]:
    """The journal file a storage argument names (None for a database URL)."""
    if storage is None:
        return sweep_dir / JOURNAL_NAME
    if is_database_url(storage):
        return None
    return Path(storage.removeprefix("journal:"))


def redact(url: Optional[str]) -> Optional[str]:
    """A storage URL without its password: postgresql://me:***@host/db."""
    if url is None or not is_database_url(url):
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_storage(storage: Optional[str], sweep_dir: Path):
    """An Optuna storage with heartbeats for `--storage` (None: the sweep directory's journal)."""
    optuna = require_optuna()
    interval, grace = heartbeat_timing()
    path = journal_path(storage, sweep_dir)
    if path is not None:
        if not path.parent.is_dir():
            raise UsageError(f"cannot open the journal {path}: its directory does not exist")
        backend = optuna.storages.journal.JournalFileBackend(str(path))
        return _heartbeat_journal_class()(backend, interval, grace)
    return _open_database(optuna, storage, interval, grace)


def _open_database(optuna, url: str, interval: int, grace: int, attempts: int = 5):
    """RDBStorage for a URL. Two processes opening a fresh database at once race to create its
    tables (one gets a duplicate-key error): the loser tries again."""
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=interval, grace_period=grace, engine_kwargs=_engine_kwargs(url),
            )
        except ImportError as err:
            raise UsageError(f"cannot open {redact(url)}: a database driver is missing ({err}); "
                             "for PostgreSQL: pip install psycopg2-binary") from None
        except Exception as err:  # sqlalchemy's errors: a bad URL, a refused connection, a wrong password
            text = str(err).strip()
            if attempt + 1 < attempts and ("already exists" in text or "duplicate key" in text or "UniqueViolation" in text):
                time.sleep(0.5 * (attempt + 1))
                continue
            first = text.splitlines()[0] if text else type(err).__name__
            raise UsageError(f"cannot open the storage {redact(url)}: {first}") from None
    raise AssertionError("unreachable")


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


_JOURNAL_CLASS = None


def _heartbeat_journal_class():
    """JournalStorage with Optuna's heartbeat interface: a running trial's worker writes the
    time into the trial every interval; a running trial silent for longer than the grace
    period is stale, and `optuna.storages.fail_stale_trials` marks it failed."""
    global _JOURNAL_CLASS
    if _JOURNAL_CLASS is not None:
        return _JOURNAL_CLASS
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages import JournalStorage
    from optuna.storages._heartbeat import BaseHeartbeat
    from optuna.trial import TrialState

    class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
        def __init__(self, backend, interval: int, grace: int):
            super().__init__(backend)
            self._interval, self._grace = interval, grace

        def record_heartbeat(self, trial_id: int) -> None:
            try:
                self.set_trial_system_attr(trial_id, HEARTBEAT_KEY, time.time())
            except (UpdateFinishedTrialError, KeyError):
                pass  # the trial was finished (or failed as stale) meanwhile

        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            now = time.time()
            stale = []
            for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
                last = trial.system_attrs.get(HEARTBEAT_KEY)
                if last is None and trial.datetime_start is not None:
                    last = trial.datetime_start.timestamp()
                if last is not None and now - float(last) > self._grace:
                    stale.append(trial._trial_id)
            return stale

        def get_heartbeat_interval(self) -> int:
            return self._interval

        def get_heartbeat_stale_trial_callback(self):
            return None

    _JOURNAL_CLASS = HeartbeatJournalStorage
    return _JOURNAL_CLASS


class AskLock:
    """An exclusive lock beside a journal file, held while a process counts the study's trials
    and asks for a new one, so processes sharing the journal never start more than -n trials.
    A database storage has no such lock; a rare extra trial there is closed unrun (`surplus`)."""

    def __init__(self, path: Optional[Path]):
        self.path = None if path is None else path.with_name(path.name + ".asklock")
        self._fd: Optional[int] = None

    def __enter__(self):
        if self.path is not None:
            import fcntl

            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError:  # a file system without locks: fall back to the surplus check
                self._close()
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
