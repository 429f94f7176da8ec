"""Fault injection for the crash tests: with BPCLI_KILL_AT=NAME (or NAME#N) set, the process
SIGKILLs itself the first (N-th) time it reaches the point NAME, e.g. `last.npz:written` (the
temporary file is complete, not yet renamed), `best.npz:replaced` or `data:loading`.
BPCLI_KILL_WITH=INT sends SIGINT instead (a Ctrl-C at exactly that point). Unset, a point costs
one dictionary lookup."""

from __future__ import annotations

import os
import signal

_TARGET = os.environ.get("BPCLI_KILL_AT", "")
_NAME, _, _NTH = _TARGET.partition("#")
_SIGNAL = getattr(signal, "SIG" + os.environ.get("BPCLI_KILL_WITH", "KILL"), signal.SIGKILL)
_seen = 0


def crash_point(name: str) -> None:
    """Die here, as kill -9 would (or take a Ctrl-C), when BPCLI_KILL_AT names this point (and occurrence)."""
    global _seen
    if not _NAME or name != _NAME:
        return
    _seen += 1
    if _seen >= int(_NTH or 1):
        os.kill(os.getpid(), _SIGNAL)
