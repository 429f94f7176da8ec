"""BLAS threads while training: `train.blas_threads` ("auto" = 1 unless the environment chose)."""

import pytest

from bpcli.host.blas_threads import blas_threads, limited_blas_threads
from bpcli.errors import SpecError
from bpcli.spec import build_model, build_optimizer, build_schedule, load_spec_text
from bpcli.training.callbacks import TrainCallbacks
from bpcli.training.loop import Trainer

SPEC = """
seed: 1
data: {type: spiral, points_per_class: 20}
model: [{dense: 8}, relu, {dense: 3}]
optimizer: {type: sgd, lr: 0.1}
train: {epochs: 2, batch_size: 20}
"""

needs_openblas = pytest.mark.skipif(blas_threads() is None, reason="no BLAS that threadpoolctl can see")


def trainer_for(*overrides):
    from bpcli.training.setup import load_dataset

    spec = load_spec_text(SPEC, list(overrides))
    data = load_dataset(spec)
    model = build_model(spec, data.input_shape, data.n_classes)
    return Trainer(model, data, options=spec.train, optimizer=build_optimizer(spec.optimizer, model.graph.params()),
                   schedule=build_schedule(spec.schedule), seed=spec.seed)


def threads_while_training(*overrides) -> set:
    """The BLAS thread counts seen at every step of a short training run."""
    seen = []

    class Watch(TrainCallbacks):
        def on_step(self, epoch, batch, loss):
            seen.append(blas_threads())

    trainer = trainer_for(*overrides)
    trainer.callbacks = Watch()
    trainer.run()
    return set(seen)


@pytest.fixture
def no_thread_env(monkeypatch):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)


@needs_openblas
def test_auto_is_one_thread_without_environment(no_thread_env):
    assert threads_while_training() == {1}


@needs_openblas
def test_auto_leaves_an_environment_choice_alone(no_thread_env, monkeypatch):
    from threadpoolctl import threadpool_limits

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with threadpool_limits(limits=2, user_api="blas"):  # as if the environment had chosen 2 at start-up
        assert threads_while_training() == {blas_threads()}


@needs_openblas
def test_a_number_wins_over_the_environment(no_thread_env, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert threads_while_training("train.blas_threads=3") == {3}


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
    before = blas_threads()
    assert threads_while_training() == {1}
    assert blas_threads() == before


@needs_openblas
def test_the_limit_is_what_threadpoolctl_sees_for_every_blas():
    from threadpoolctl import threadpool_info

    with limited_blas_threads(1):
        counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert counts and set(counts) == {1}


def test_openblas_threads_reads_the_count_threadpoolctl_sets():
    from bpcli.host import openblas

    if openblas.symbol("openblas_get_num_threads") is None:
        assert openblas.threads() == 1  # no OpenBLAS reachable: callers plan for one thread
        return
    for n in (1, 2):
        with limited_blas_threads(n) as inside:
            assert openblas.threads() == inside  # 2 may be capped on a one-core machine
            assert inside == 1 or n == 2
