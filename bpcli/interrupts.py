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


def caused_by_interrupt(err: BaseException) -> bool:
    """True when a KeyboardInterrupt is `err` or in its chain of causes and contexts: a Ctrl-C
    inside a class creation comes out as "RuntimeError: Error calling __set_name__", a Ctrl-C
    in Typer's parsing as its Exit(130). A context suppressed (`raise ... from None`) was handled."""
    seen = set()
    todo = [err]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt):
            return True
        todo.append(e.__cause__)
        if not e.__suppress_context__:
            todo.append(e.__context__)
    return False


def exit_interrupted(message: str = "interrupted; nothing was saved") -> None:
    """The one line for a Ctrl-C before any work was done; exit 130."""
    print(message, file=sys.stderr)
    raise SystemExit(130)
