"""`train.blas_threads: auto` picks the BLAS thread count from the model's largest GEMM (bpcli/fast/thread_policy.py)."""

import pytest

from bpcli.fast import thread_policy
from bpcli.spec import build_model, load_spec_text
from bpcli.spec.build_training import build_optimizer, build_schedule
from bpcli.training.loop import Trainer

MLP = """
seed: 1
data: {type: spiral, points_per_class: 20}
model: [{dense: 8}, relu, {dense: 3}]
optimizer: {type: sgd, lr: 0.1}
train: {epochs: 1, batch_size: 20}
"""


def _conv_model(filters):
    """A conv2d of `filters` 3x3 filters on (C=32, 32, 32) images, flattened into 10 classes."""
    from bpcli.nn.graph import LayerGraph, Node
    from bpcli.nn.layer import LAYERS

    nodes = [Node("conv", LAYERS.get("conv2d")(filters=filters, kernel=3, padding=1)),
             Node("flat", LAYERS.get("flatten")(), ["conv"]), Node("out", LAYERS.get("dense")(units=10), ["flat"])]

    class Model:
        graph = LayerGraph(nodes, (32, 32, 32), seed=0)

    return Model()


def test_largest_gemm_counts_conv_multiply_adds_per_output_position():
    model = _conv_model(filters=32)
    conv = 32 * 32 * 3 * 3 * (32 * 32) * 64  # F·C·k·k weights, each used at Ho·Wo positions of 64 examples
    dense = (32 * 32 * 32) * 10 * 64
    assert conv > dense
    assert thread_policy.largest_gemm_macs(model, 64) == conv


def test_a_convnet_with_big_gemms_gets_every_core_and_a_tiny_one_a_single_thread(monkeypatch):
    monkeypatch.setattr(thread_policy, "usable_cores", lambda: 2)
    assert thread_policy.choose_blas_threads(_conv_model(filters=32), 64, busy=0) == 2  # 604 M multiply-adds
    assert thread_policy.choose_blas_threads(_conv_model(filters=32), 1, busy=0) == 2  # 9.4 M at batch 1
    assert thread_policy.choose_blas_threads(_conv_model(filters=8), 1, busy=0) == 1  # 2.4 M


class _Dense:
    """A model whose graph holds dense layers of the given (inputs, units) weights."""

    def __init__(self, *sizes):
        import numpy as np
        from types import SimpleNamespace

        nodes = [SimpleNamespace(name=f"d{i}", layer=SimpleNamespace(params={"W": np.empty(size)}))
                 for i, size in enumerate(sizes)]
        self.graph = SimpleNamespace(nodes=nodes, shapes={f"d{i}": (size[1],) for i, size in enumerate(sizes)})


def test_the_fashion_mnist_mlp_gets_two_threads_on_an_idle_two_core_machine_and_one_on_a_busy_one(monkeypatch):
    monkeypatch.setattr(thread_policy, "usable_cores", lambda: 2)
    mlp = _Dense((784, 256), (256, 128), (128, 10))
    assert thread_policy.largest_gemm_macs(mlp, 128) == 128 * 784 * 256  # 25.7 M
    assert thread_policy.choose_blas_threads(mlp, 128, busy=0.3) == 2
    assert thread_policy.choose_blas_threads(mlp, 128, busy=0.6) == 1  # another process on one core
    assert thread_policy.choose_blas_threads(mlp, 128, busy=3.0) == 1  # never fewer than one
    assert thread_policy.choose_blas_threads(_Dense((64, 128), (128, 10)), 64, busy=0) == 1  # digits: 0.5 M


def test_auto_leaves_the_busy_cores_of_a_bigger_machine_to_their_processes(monkeypatch):
    monkeypatch.setattr(thread_policy, "usable_cores", lambda: 8)
    monkeypatch.setattr(thread_policy, "busy_cores", lambda: 2.4)
    assert thread_policy.choose_blas_threads(_conv_model(filters=32), 64) == 6


@pytest.fixture
def no_thread_env(monkeypatch):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)


def _trainer(spec_text, *overrides):
    from bpcli.training.setup import load_dataset

    spec = load_spec_text(spec_text, list(overrides))
    data = load_dataset(spec)
    model = build_model(spec, data.input_shape, data.n_classes)
    return Trainer(model, data, options=spec.train, optimizer=build_optimizer(spec.optimizer, model.graph.params()),
                   schedule=build_schedule(spec.schedule), seed=spec.seed)


def test_auto_trains_a_small_mlp_on_one_thread_and_a_convnet_on_every_core(no_thread_env, monkeypatch):
    monkeypatch.setattr(thread_policy, "usable_cores", lambda: 2)
    monkeypatch.setattr(thread_policy, "busy_cores", lambda: 0.0)
    assert _trainer(MLP).auto_blas_threads() == 1
    convnet = """
seed: 1
data: {type: bars, images_per_class: 30, size: 32}
model: [{conv2d: {filters: 32, padding: 1}}, relu, {conv2d: {filters: 32, padding: 1}}, relu, flatten, {dense: 3}]
optimizer: {type: sgd, lr: 0.1}
train: {epochs: 1, batch_size: 64}
"""
    assert _trainer(convnet).auto_blas_threads() == 2  # the second conv: 32·32·9 · 1024 · 64 = 604 M multiply-adds


def test_busy_cores_sees_another_process_spinning():
    import subprocess
    import sys

    if thread_policy._cpu_times() is None:
        pytest.skip("no /proc/stat on this OS (the load average stands in)")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.2)
        busy = thread_policy.busy_cores(0.3)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy >= 0.8  # the spinner's core, whatever else the machine runs


def test_busy_cores_leaves_out_this_processs_own_threads():
    import threading
    import time

    if thread_policy._cpu_times() is None:
        pytest.skip("no /proc/stat on this OS (the load average stands in)")
    stop = threading.Event()
    spinner = threading.Thread(target=lambda: [None for _ in iter(lambda: stop.is_set(), True)])
    spinner.start()  # spins in this process (as OpenBLAS's workers do after a GEMM) while busy_cores sleeps
    try:
        own_before = time.process_time()
        busy = thread_policy.busy_cores(0.3)
        own = time.process_time() - own_before
    finally:
        stop.set()
        spinner.join()
    assert own >= 0.2  # the spinner really ran
    assert busy < 0.5


def test_the_policy_is_asked_only_when_auto_decides(monkeypatch):
    from bpcli.host.tuning import blas_thread_count

    def policy():
        raise AssertionError("the policy was asked")  # it sleeps 0.1 s to measure the machine

    assert blas_thread_count(3, policy) == 3
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert blas_thread_count("auto", policy) is None
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    assert blas_thread_count("auto", lambda: 2) == 2
