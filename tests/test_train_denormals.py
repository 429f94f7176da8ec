"""Subnormal floats flushed to zero while training (`train.flush_denormals`, default on)."""

import numpy as np
import pytest

from bpcli.host.denormals import flush_supported, flushed_denormals
from bpcli.spec import build_model, build_optimizer, build_schedule, load_spec_text
from bpcli.training.callbacks import TrainCallbacks
from bpcli.training.loop import Trainer

SUBNORMAL = np.float32(1e-39)  # below float32's smallest normal number, 1.18e-38
needs_flush = pytest.mark.skipif(not flush_supported(), reason="flushing needs Linux glibc on x86-64")

SPEC = """
seed: 1
data: {type: spiral, points_per_class: 20}
model: [{dense: 8}, relu, {dense: 3}]
optimizer: {type: sgd, lr: 0.1}
train: {epochs: 1, batch_size: 20}
"""


def product_of_subnormal() -> float:
    return float((np.array([SUBNORMAL]) * np.float32(1.0))[0])


@needs_flush
def test_subnormals_become_zero_inside_and_come_back_after():
    assert product_of_subnormal() > 0
    with flushed_denormals() as on:
        assert on
        assert product_of_subnormal() == 0.0
        assert float(np.float32(1e-30) * np.float32(1e-10)) == 0.0  # a subnormal result, flushed
        assert float(np.float32(1e-20) * np.float32(1e-10)) == pytest.approx(1e-30, rel=1e-6)  # normal ones stay
    assert product_of_subnormal() > 0


def test_disabled_flushing_changes_nothing():
    with flushed_denormals(enabled=False) as on:
        assert not on
        assert product_of_subnormal() > 0


def seen_during_training(*overrides):
    from bpcli.training.setup import load_dataset

    spec = load_spec_text(SPEC, list(overrides))
    data = load_dataset(spec)
    model = build_model(spec, data.input_shape, data.n_classes)
    seen = []

    class Watch(TrainCallbacks):
        def on_step(self, epoch, batch, loss):
            seen.append(product_of_subnormal())

    Trainer(model, data, options=spec.train, optimizer=build_optimizer(spec.optimizer, model.graph.params()),
            schedule=build_schedule(spec.schedule), seed=spec.seed, callbacks=Watch()).run()
    return seen


@needs_flush
def test_training_flushes_by_default_and_restores_after():
    assert set(seen_during_training()) == {0.0}
    assert product_of_subnormal() > 0


def test_training_can_keep_subnormals():
    assert all(x > 0 for x in seen_during_training("train.flush_denormals=false"))
