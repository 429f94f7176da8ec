"""Ctrl-C while training: the first one asks the loop to stop after the current step and save
(TrainingInterrupted, exit 130); a second one stops at once (KeyboardInterrupt)."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from bpcli.errors import BpcliError


class TrainingInterrupted(BpcliError):
    """Ctrl-C (or `Trainer.interrupt()`): a checkpoint was saved; exit 130."""

    exit_code = 130

    def __init__(self, message: str, checkpoint_path: Optional[str], epoch: int, step: int,
                 run_dir: Optional[str] = None):
        super().__init__(message)
        self.checkpoint_path, self.epoch, self.step = checkpoint_path, epoch, step
        self.run_dir = run_dir  # the run directory, once the entry point knows it


@contextmanager
def sigint_asks(ask: Callable[[], None], asked: Callable[[], bool]) -> Iterator[None]:
    """Within the block, SIGINT calls `ask` (or raises KeyboardInterrupt when `asked()` already);
    a Ctrl-C pressed before (its KeyboardInterrupt lost in an import) asks at once. The previous
    handler is put back afterwards. Outside the main thread signals cannot be handled: nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum, frame):
        if asked():  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        ask()

    from bpcli import interrupts

    if interrupts.pending():
        ask()
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
