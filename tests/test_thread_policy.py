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
    assert thread_policy.choose_blas_threads(_conv_model(filters=32), 64) == 2  # 604 M multiply-adds
    assert thread_policy.choose_blas_threads(_conv_model(filters=32), 2) == 1  # 19 M at batch 2


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
    assert _trainer(MLP).auto_blas_threads() == 1
    convnet = """
seed: 1
data: {type: bars, images_per_class: 30, size: 32}
model: [{conv2d: {filters: 32, padding: 1}}, relu, {conv2d: {filters: 32, padding: 1}}, relu, flatten, {dense: 3}]
optimizer: {type: sgd, lr: 0.1}
train: {epochs: 1, batch_size: 64}
"""
    assert _trainer(convnet).auto_blas_threads() == 2  # the second conv: 32·32·9 · 1024 · 64 = 604 M multiply-adds
