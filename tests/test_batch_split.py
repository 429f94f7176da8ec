"""Data parallel over the batch (bpcli/fast/batch_split.py): a convnet's step as slices of the batch
through replicas of the graph lands where the whole batch's step lands, the same bit for bit on one
worker or two, in training and across a resume."""

import threading

import numpy as np
import pytest

from bpcli.fast import batch_split
from bpcli.fast.batch_split import BatchSplit, conv_macs_per_example, replica_of, splittable
from bpcli.fast.train_step import TrainStep
from bpcli.host import openblas
from bpcli.host.denormals import flush_supported, flushed_denormals, flushing
from bpcli.nn.optim import OPTIMIZERS
from bpcli.spec import build_model, load_spec_text
from test_train import InterruptAt, assert_same_run

CONVNET = """
seed: 2
data: {type: bars, images_per_class: 40, size: 8, val_fraction: 0.25}
model:
  - conv2d: {filters: 8, kernel: 3, padding: 1}
  - relu
  - maxpool2d: {size: 2}
  - conv2d: {filters: 16, kernel: 3, padding: 1}
  - leaky_relu
  - flatten
  - dense: 10
  - tanh
  - dense: 3
optimizer: {type: momentum, lr: 0.05}
regularization: {type: l2, strength: 0.001}
train: {epochs: 3, batch_size: 24}
"""


@pytest.fixture(autouse=True)
def split_small_convnets(monkeypatch):
    """These convnets are tiny: split them all the same, in two as on a 2-core machine (the rules have their own test)."""
    monkeypatch.setattr(batch_split, "MIN_CONV_MACS", 0)
    monkeypatch.setattr(batch_split, "usable_cores", lambda: 2)


def _model(text=CONVNET, *overrides, dtype=np.float64):
    return build_model(load_spec_text(text, list(overrides)), (1, 8, 8), 3, dtype=dtype)


def _batch(n=24, dtype=np.float64):
    rng = np.random.default_rng(5)
    return rng.standard_normal((n, 1, 8, 8)).astype(dtype), rng.integers(0, 3, n)


def _train(model, optimizer_name, *, split, workers=1, clip=None, steps=3, n=24, parts=2):
    X, y = _batch(n, model.graph.dtype)
    step = TrainStep(model, OPTIMIZERS.get(optimizer_name)(model.graph.params(), lr=0.05), clip_norm=clip,
                     split=split, workers=workers)
    if split:
        step._split.parts = parts
    losses = []
    for _ in range(steps):
        loss, reg_loss, scores = step.forward(X, y)
        losses.append((loss, reg_loss, scores.copy()))
        step.backward_and_update()
    return losses, {k: v.copy() for k, v in model.graph.params().items()}


@pytest.mark.parametrize("clip", [None, 0.5])
@pytest.mark.parametrize("optimizer_name", ["sgd", "momentum", "adam"])
def test_a_split_step_lands_where_the_whole_batch_step_lands(optimizer_name, clip):
    whole_losses, whole = _train(_model(), optimizer_name, split=False, clip=clip)
    split_losses, split = _train(_model(), optimizer_name, split=True, workers=2, clip=clip)
    for (wl, wr, ws), (sl, sr, ss) in zip(whole_losses, split_losses):
        assert sl == pytest.approx(wl, rel=1e-12) and sr == pytest.approx(wr, rel=1e-12)
        np.testing.assert_allclose(ss, ws, rtol=1e-11, atol=1e-12)
    for k in whole:
        np.testing.assert_allclose(split[k], whole[k], rtol=1e-10, atol=1e-12, err_msg=k)
    assert any(not np.array_equal(split[k], _model().graph.params()[k]) for k in split)  # it did train


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_worker_and_two_give_the_same_numbers_bit_for_bit(dtype):
    one_losses, one = _train(_model(dtype=dtype), "momentum", split=True, workers=1)
    two_losses, two = _train(_model(dtype=dtype), "momentum", split=True, workers=2)
    assert [loss[:2] for loss in one_losses] == [loss[:2] for loss in two_losses]
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])


def test_three_slices_on_two_threads_give_the_numbers_of_three_in_turn():
    one_losses, one = _train(_model(), "momentum", split=True, workers=1, parts=3)
    two_losses, two = _train(_model(), "momentum", split=True, workers=2, parts=3)
    _, whole = _train(_model(), "momentum", split=False)
    assert [loss[:2] for loss in one_losses] == [loss[:2] for loss in two_losses]
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])
        np.testing.assert_allclose(one[k], whole[k], rtol=1e-10, atol=1e-12)


def test_a_batch_is_cut_by_its_size_and_its_convolutions_never_by_the_load(monkeypatch):
    graph = _model().graph
    per_example = 8 * 9 * 64 + 16 * 8 * 9 * 16  # W's size times output positions, for each conv2d
    assert conv_macs_per_example(graph) == per_example
    split = BatchSplit(graph, parts=4)
    assert [split.parts_for(n) for n in (15, 16, 24, 31, 32, 200)] == [1, 2, 3, 3, 4, 4]  # 8 examples a slice at least
    monkeypatch.setattr(batch_split, "MIN_CONV_MACS", 100 * per_example)
    assert split.applies(100) and not split.applies(99)
    monkeypatch.setattr(batch_split, "usable_cores", lambda: 16)
    assert BatchSplit(graph).parts == batch_split.MAX_PARTS
    monkeypatch.setattr(batch_split, "usable_cores", lambda: 1)
    assert not BatchSplit(graph).applies(200)  # one core: nothing to gain


def test_an_odd_batch_splits_unevenly():
    _, whole = _train(_model(), "sgd", split=False, n=17)
    _, parts = _train(_model(), "sgd", split=True, workers=2, n=17)  # slices of 8 and 9
    for k in whole:
        np.testing.assert_allclose(parts[k], whole[k], rtol=1e-10, atol=1e-12)


def test_eval_scores_in_slices_are_the_whole_batchs():
    model = _model()
    X, _ = _batch(40)
    split = BatchSplit(model.graph, parts=3, workers=2)
    np.testing.assert_allclose(split.scores(X), model.scores(X), rtol=1e-12, atol=1e-12)
    assert len(split.replicas) == 3 and not model.graph.training


def test_only_convnets_of_fast_per_example_layers_are_split():
    assert splittable(_model().graph)
    assert not splittable(_model(CONVNET, "train.kernels=reference").graph)  # the lecture's layers run whole
    mlp = "seed: 1\ndata: {type: spiral}\nmodel: [{dense: 8}, relu, {dense: 3}]\n"
    assert not splittable(build_model(load_spec_text(mlp), (2,), 3).graph)  # BLAS splits its GEMMs better
    for layer in ("batchnorm", "dropout: 0.5"):  # batch statistics; one noise stream per layer
        text = CONVNET.replace("  - flatten\n", f"  - {layer}\n  - flatten\n")
        assert not splittable(_model(text).graph)


def test_a_replica_shares_the_parameters_and_no_other_array():
    graph = _model().graph
    X, y = _batch()
    graph.forward(X, training=True)
    copy = replica_of(graph)
    for mine, theirs in zip(graph.nodes, copy.nodes):
        for k in mine.layer.params:
            assert theirs.layer.params[k] is mine.layer.params[k]
    params = {id(p) for p in graph.params().values()}
    held = [v for n in copy.nodes for v in vars(n.layer).values() if isinstance(v, np.ndarray)]
    held += [g for g in copy.grads().values()]
    assert held and not any(np.shares_memory(a, b) for a in held for b in graph.grads().values())
    assert not any(id(a) in params for a in held)


def test_a_parameter_replaced_between_steps_is_seen_by_every_slice():
    model = _model()
    step = TrainStep(model, OPTIMIZERS.get("sgd")(model.graph.params(), lr=0.0), workers=2)
    X, y = _batch()
    step.forward(X, y)
    step.backward_and_update()
    first = model.graph.nodes[0].layer
    first.params["W"] = np.zeros_like(first.params["W"])  # a new array, not written in place
    _, _, scores = step.forward(X, y)
    model.graph.nodes[0].layer.params["W"] = first.params["W"]
    np.testing.assert_allclose(scores, model.graph.forward(X, training=False), rtol=1e-12, atol=1e-12)


def test_a_model_cast_to_another_dtype_after_a_split_step_is_split_in_that_dtype():
    model = _model(dtype=np.float32)
    step = TrainStep(model, OPTIMIZERS.get("sgd")(model.graph.params(), lr=0.0), workers=2)
    X, y = _batch(32, np.float32)
    step.forward(X, y)
    step.backward_and_update()
    model.graph.to(np.float64)
    X64 = X.astype(np.float64)
    scores = step.scores(X64)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, model.scores(X64), rtol=1e-13, atol=1e-14)


def test_the_worker_thread_computes_under_the_callers_error_state_and_flushing():
    split = BatchSplit(_model().graph, workers=2)
    seen = {}

    def part(i):
        seen[i] = (threading.current_thread() is threading.main_thread(), np.geterr()["over"], flushing())
        return i

    before = openblas.threads()
    with np.errstate(over="raise"), flushed_denormals(True):
        assert split._run(part, 2) == [0, 1]
    assert openblas.threads() == before  # BLAS gets its thread count back
    if openblas.set_threads(before):  # a reachable OpenBLAS: the second slice ran on the worker
        assert seen[0][0] and not seen[1][0]
    assert seen[0][1:] == seen[1][1:] == ("raise", flush_supported())


def test_a_failing_slice_raises_after_the_other_slice_finished():
    split = BatchSplit(_model().graph, workers=2)
    finished = []

    def part(i):
        if i == 0:
            raise ValueError("slice 0 failed")
        threading.Event().wait(0.05)
        finished.append(i)

    with pytest.raises(ValueError, match="slice 0 failed"):
        split._run(part, 2)
    assert finished == [1]


def _spec(*overrides):
    return load_spec_text(CONVNET, list(overrides))


def test_training_on_one_thread_or_two_gives_the_same_run(tmp_path):
    from bpcli.training.entry import train_spec

    workers = []
    train_spec(_spec("train.blas_threads=1"), out=tmp_path / "one")
    run = train_spec(_spec("train.blas_threads=2"), out=tmp_path / "two",
                     on_trainer=lambda trainer: workers.append(trainer.step_fn))
    assert workers[0].workers == 2
    assert_same_run(tmp_path / "one", tmp_path / "two")
    assert run.result.final["train_accuracy"] > 0.5  # three classes: it learned


def test_while_a_split_model_trains_blas_keeps_one_thread_and_the_slices_get_the_threads(tmp_path):
    from bpcli.training.callbacks import TrainCallbacks
    from bpcli.training.entry import train_spec

    seen = []

    class Watch(TrainCallbacks):
        def on_step(self, epoch, batch, loss):
            seen.append(openblas.threads())

    before = openblas.threads()
    trainers = []
    train_spec(_spec("train.blas_threads=2"), out=tmp_path / "run", callbacks=Watch(), on_trainer=trainers.append)
    assert trainers[0].step_fn.workers == 2
    if openblas.set_threads(before):  # a reachable OpenBLAS
        assert set(seen) == {1}  # Adam's update between steps would otherwise wake BLAS's spinning workers
    assert openblas.threads() == before


def test_a_split_run_interrupted_mid_epoch_resumes_to_the_uninterrupted_run(tmp_path):
    from bpcli.training.ctrl_c import TrainingInterrupted
    from bpcli.training.entry import resume_run, train_spec

    train_spec(_spec("train.blas_threads=2"), out=tmp_path / "whole")
    stopper = InterruptAt(step=5)
    with pytest.raises(TrainingInterrupted):
        train_spec(_spec("train.blas_threads=2"), out=tmp_path / "split", callbacks=stopper, on_trainer=stopper.attach)
    resume_run(tmp_path / "split")
    assert_same_run(tmp_path / "whole", tmp_path / "split")
