"""How much memory one input may claim: checked against what a header or an option says,
before anything is allocated. Half of what this process can have: the smaller of the
machine's RAM and the address-space limit (ulimit -v), if one is set."""

from __future__ import annotations

import os
import resource
from functools import lru_cache

GiB = 2**30


@lru_cache(maxsize=None)
def memory_budget() -> int:
    """Bytes one array (a dataset, a layer's weights) may take."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 * GiB
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft not in (resource.RLIM_INFINITY, -1):
        total = min(total, soft)
    return total // 2


def too_large(n_bytes: int) -> bool:
    return n_bytes > memory_budget()


def describe_bytes(n: int) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def over_budget(n_bytes: int, what: str) -> str:
    """'WHAT would take 8 TB, more than the memory bpcli may use here (12.6 GB)'."""
    return f"{what} would take {describe_bytes(n_bytes)}, more than the memory bpcli may use here ({describe_bytes(memory_budget())})"
