"""BLAS threads while training: `train.blas_threads` ("auto" = 1 unless the environment chose)."""

import pytest

from bpcli.host.blas_threads import blas_threads, limited_blas_threads
from bpcli.errors import SpecError
from bpcli.spec import build_model, load_spec_text
from bpcli.training.loop import TrainCallbacks, Trainer

SPEC = """
seed: 1
data: {type: spiral, points_per_class: 20}
model: [{dense: 8}, relu, {dense: 3}]
optimizer: {type: sgd, lr: 0.1}
train: {epochs: 2, batch_size: 20}
"""

needs_openblas = pytest.mark.skipif(blas_threads() is None, reason="no BLAS that threadpoolctl can see")


def trainer_for(*overrides):
    from bpcli.training.entry import load_dataset

    spec = load_spec_text(SPEC, list(overrides))
    data = load_dataset(spec)
    model = build_model(spec, data.input_shape, data.n_classes)
    return Trainer(model, data, options=spec.train, optimizer=spec.optimizer, seed=spec.seed)


@pytest.fixture
def no_thread_env(monkeypatch):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)


def test_auto_is_one_thread_without_environment(no_thread_env):
    assert trainer_for().blas_thread_count() == 1


def test_auto_leaves_an_environment_choice_alone(no_thread_env, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert trainer_for().blas_thread_count() is None


def test_a_number_wins_over_the_environment(no_thread_env, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert trainer_for("train.blas_threads=3").blas_thread_count() == 3


@pytest.mark.parametrize("bad", ["0", "many"])
def test_bad_thread_counts_are_spec_errors(bad):
    with pytest.raises(SpecError, match="blas_threads"):
        load_spec_text(SPEC, [f"train.blas_threads={bad}"])


@needs_openblas
def test_limit_applies_inside_and_restores_after():
    before = blas_threads()
    with limited_blas_threads(1) as inside:
        assert inside == 1 and blas_threads() == 1
    assert blas_threads() == before


@needs_openblas
def test_training_runs_on_the_chosen_count_and_restores_it(no_thread_env):
    seen = []

    class Watch(TrainCallbacks):
        def on_step(self, epoch, batch, loss):
            seen.append(blas_threads())

    before = blas_threads()
    trainer = trainer_for()
    trainer.callbacks = Watch()
    trainer.run()
    assert seen and set(seen) == {1}
    assert blas_threads() == before


@needs_openblas
def test_the_limit_is_what_threadpoolctl_sees_for_every_blas():
    from threadpoolctl import threadpool_info

    with limited_blas_threads(1):
        counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert counts and set(counts) == {1}
