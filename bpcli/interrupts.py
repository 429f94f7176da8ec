"""Ctrl-C from the first moment of the process: SIGINT raises KeyboardInterrupt as usual and
also leaves a mark, so one that an import swallows (NumPy's import catches exceptions) is
still seen by the training loop, which then stops at its first step and saves."""

from __future__ import annotations

import signal
import sys

_pending = False


def _on_sigint(signum, frame):
    global _pending
    _pending = True
    raise KeyboardInterrupt


def install() -> None:
    """Handle SIGINT (unless it is ignored, as for a background job of a shell)."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_sigint)


def pending() -> bool:
    """True once Ctrl-C was pressed in this process (even if the KeyboardInterrupt was lost)."""
    return _pending


def exit_interrupted(message: str = "interrupted; nothing was saved") -> None:
    """The one line for a Ctrl-C before any work was done; exit 130."""
    print(message, file=sys.stderr)
    raise SystemExit(130)
