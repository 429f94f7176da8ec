"""How many BLAS threads `train.blas_threads: auto` trains with, chosen from the model's size
and how busy the machine is.

A second BLAS thread only pays when each GEMM is big enough to split, and OpenBLAS itself splits
a GEMM only from a size: on 2 cores, 128×784×128 (13 M multiply-adds) took 0.26 ms on one thread
or two, 128×784×256 (26 M, the Fashion-MNIST MLP's largest) 0.51 against 0.29 ms. Measured end to
end on a quiet machine, that MLP's training loop took 11.0 s on one thread, 8.6 s on two (PyTorch
9.1 s). But two BLAS threads on a core that another process keeps busy wait for each other at
every GEMM: the same loop took 37 s. So every core is used for big enough GEMMs, minus the cores
other processes keep busy when training starts.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Optional

# Largest forward GEMM of a step (multiply-adds) from which more than one thread is used. Below
# the Fashion-MNIST CNN's 14 M: its backward's GEMMs are bigger, and its 1-epoch loop took 6.5 s
# on two threads against 7.0 on one (torch 5.2 s); the spiral and digits nets (0.06 M, 0.5 M) stay
# on one.
MIN_MACS_FOR_ALL_CORES = 8 * 2**20


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> Optional[tuple[int, int, int]]:
    """(all CPU time, idle time, CPUs) summed over the machine from /proc/stat, None where it is missing."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            lines = stat.read().splitlines()
    except OSError:
        return None
    fields = [int(v) for v in lines[0].split()[1:]]  # user nice system idle iowait irq softirq steal ...
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return sum(fields[:8]), fields[3] + fields[4], cpus


def busy_cores(window: float = 0.1) -> float:
    """Cores other processes keep busy now: the machine's non-idle CPU time over `window` seconds
    less this process's own (the load average would count this process's own last minutes, so a
    sweep's second trial or a benchmark's next run would see itself as another process; and this
    process's own threads, such as OpenBLAS's workers still spinning after building the model,
    took one core of two in a convnet's `bpcli train`, which then trained on one thread).
    Where /proc/stat is missing, the 1-minute load average; 0 where neither exists."""
    before = _cpu_times()
    if before is None:
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    own_before = time.process_time()
    time.sleep(window)
    own = time.process_time() - own_before
    after = _cpu_times()
    total, idle = after[0] - before[0], after[1] - before[1]
    if total <= 0:
        return 0.0
    own_ticks = own * _ticks_per_second()
    return max(0.0, total - idle - own_ticks) / total * after[2]


def _ticks_per_second() -> float:
    """/proc/stat's unit (USER_HZ, 100 on Linux)."""
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100.0


def largest_gemm_macs(model: Any, batch_size: int) -> int:
    """Multiply-adds of the largest forward GEMM among the layers with a weight W: W's size times
    the output positions per example (1 for dense, Ho·Wo for conv2d) times the batch."""
    graph = model.graph
    largest = 0
    for node in graph.nodes:
        W = node.layer.params.get("W")
        shape = graph.shapes.get(node.name, ())
        if W is None or not shape:
            continue
        positions = math.prod(shape[1:])
        largest = max(largest, int(W.size) * positions * int(batch_size))
    return largest


def choose_blas_threads(model: Any, batch_size: int, busy: Optional[float] = None) -> int:
    """BLAS threads for training `model` on batches of `batch_size`: 1 when its largest GEMM has
    fewer than MIN_MACS_FOR_ALL_CORES multiply-adds, else the usable cores not busy (`busy`,
    default `busy_cores()`, rounded), at least 1."""
    if largest_gemm_macs(model, batch_size) < MIN_MACS_FOR_ALL_CORES:
        return 1
    busy = busy_cores() if busy is None else busy
    return max(1, usable_cores() - int(busy + 0.5))
