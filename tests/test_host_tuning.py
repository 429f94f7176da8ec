"""`tuned_process`: training tunes the process (BLAS threads, subnormal flushing, heap reuse) and
gives a host process, like a notebook that trains twice, every setting back as it was."""

import json
import subprocess
import sys
import textwrap

import pytest

from bpcli.host.blas_threads import blas_threads
from bpcli.host.denormals import flush_supported
from bpcli.host.heap_reuse import supported as heap_reuse_supported

NOTEBOOK = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from threadpoolctl import threadpool_limits
    from bpcli.host.blas_threads import blas_threads
    from bpcli.spec import load_spec_text
    from bpcli.training.callbacks import TrainCallbacks
    from bpcli.training.entry import train_spec

    BLOCK = 24 << 20  # below glibc's largest mmap threshold (32 MB), far above its default (128 KiB)

    def from_heap() -> bool:
        # whether a fresh 24 MB block comes from the brk heap (kept for reuse) rather than its own mmap
        block = np.empty(BLOCK, dtype=np.uint8)
        address = block.ctypes.data
        with open("/proc/self/maps") as maps:
            for line in maps:
                if line.rstrip().endswith("[heap]"):
                    start, end = (int(x, 16) for x in line.split()[0].split("-"))
                    if start <= address < end:
                        return True
        return False

    def state() -> dict:
        subnormal = float((np.array([np.float32(1e-39)]) * np.float32(1.0))[0])
        return {"threads": blas_threads(), "subnormals_kept": subnormal > 0, "heap": from_heap()}

    during = []

    class Watch(TrainCallbacks):
        def on_epoch(self, metrics):
            during.append(state())

    spec = load_spec_text(
        "seed: 1\\ndata: {type: spiral, points_per_class: 20}\\nmodel: [{dense: 8}, relu, {dense: 3}]\\n"
        "train: {epochs: 1, batch_size: 20, blas_threads: 1}\\n")
    with threadpool_limits(limits=2, user_api="blas"):  # the notebook's own choice
        seen = {"before": state()}
        train_spec(spec, out=sys.argv[1] + "/a", callbacks=Watch())
        seen["after_first"] = state()
        train_spec(spec, out=sys.argv[1] + "/b", callbacks=Watch())
        seen["after_second"] = state()
    seen["during"] = during
    print(json.dumps(seen))
    """
)


@pytest.mark.skipif(blas_threads() is None, reason="no BLAS that threadpoolctl can see")
def test_a_notebook_training_twice_gets_each_setting_back(tmp_path):
    out = subprocess.run([sys.executable, "-c", NOTEBOOK, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    before = seen["before"]
    assert seen["after_first"] == before and seen["after_second"] == before
    assert len(seen["during"]) == 2
    for during in seen["during"]:
        assert during["threads"] == 1
        if flush_supported():
            assert before["subnormals_kept"] and not during["subnormals_kept"]
        if heap_reuse_supported():
            assert not before["heap"] and during["heap"]
