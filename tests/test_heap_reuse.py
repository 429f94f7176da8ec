"""reuse_freed_memory: freed multi-megabyte blocks come back without page faults afterwards.

Run in a fresh interpreter: the setting is process-wide and glibc's starting state matters."""

import subprocess
import sys

import pytest

from bpcli.host.heap_reuse import supported

SCRIPT = """
import resource, numpy as np
from bpcli.host.heap_reuse import reuse_freed_memory

def faults(cycles=20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(cycles):
        blocks = [np.empty(3 << 20, np.uint8) for _ in range(4)]  # 4 x 3 MB, like a CNN step's arrays
        for b in blocks:
            b.fill(1)  # touch every page
        del blocks
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults(2)
plain = faults()
assert reuse_freed_memory()
faults(2)
print(plain, faults())
"""


@pytest.mark.skipif(not supported(), reason="the allocator is not glibc's")
def test_freed_blocks_are_reused_once_switched_on():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    plain, reused = map(int, out.split())
    assert plain > 1000  # glibc alone hands the blocks back and faults them in again
    assert reused < 50
