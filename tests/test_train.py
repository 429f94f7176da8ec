"""The training loop: the default spiral, determinism, exact resume, nan stop, early stopping."""

import json
import math

import numpy as np
import pytest

from bpcli.training.checkpoint import load_checkpoint
from bpcli.errors import SpecError, TrainingDiverged
from bpcli.trained.load import load_trained
from bpcli.training.entry import resume_run, train_spec
from bpcli.spec import build_optimizer, build_schedule, build_model, load_spec, load_spec_text
from bpcli.training.callbacks import TrainCallbacks
from bpcli.training.ctrl_c import TrainingInterrupted
from bpcli.training.loop import Trainer

# A spec that exercises every piece of state a resume must restore: dropout noise (layer rng),
# batchnorm running statistics (buffers), shuffled mini-batches (shuffle rng), Adam moments,
# a plateau schedule, a validation split and early-stopping bookkeeping.
STATEFUL = """
seed: 3
data: {type: spiral, points_per_class: 40, val_fraction: 0.25}
model:
  - dense: 32
  - batchnorm
  - relu
  - dropout: 0.2
  - dense: 3
optimizer: {type: adam, lr: 0.01}
schedule: {type: plateau, monitor: val_loss, patience: 1, factor: 0.5}
train:
  epochs: 8
  batch_size: 16
  early_stopping: {monitor: val_loss, patience: 100}
"""


def stateful_spec(*overrides):
    return load_spec_text(STATEFUL, list(overrides))


class InterruptAt(TrainCallbacks):
    """Calls trainer.interrupt() after a given epoch or a given global step."""

    def __init__(self, epoch=None, step=None):
        self.epoch, self.step, self.trainer, self.steps = epoch, step, None, 0

    def attach(self, trainer):
        self.trainer = trainer

    def on_step(self, epoch, batch, loss):
        self.steps += 1
        if self.step is not None and self.steps == self.step:
            self.trainer.interrupt()

    def on_epoch(self, metrics):
        if self.epoch is not None and metrics.epoch == self.epoch:
            self.trainer.interrupt()


def final_weights(run_path):
    return load_checkpoint(run_path / "checkpoints" / "last.npz").params


def assert_same_run(a, b):
    assert (a / "metrics.jsonl").read_bytes() == (b / "metrics.jsonl").read_bytes()
    wa, wb = final_weights(a), final_weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])
    sa, sb = json.loads((a / "summary.json").read_text()), json.loads((b / "summary.json").read_text())
    assert sa["final"] == sb["final"] and sa["steps"] == sb["steps"] and sa["epochs"] == sb["epochs"]


def test_default_spiral_reaches_97_percent_training_accuracy(tmp_path):
    run = train_spec(load_spec("spiral"), out=tmp_path / "run")
    assert run.result.final["train_accuracy"] >= 0.97
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["final"]["train_accuracy"] >= 0.97
    assert {"epochs", "steps", "train_seconds", "run_dir", "final"} <= summary.keys()
    # the lecture's sanity check: small weights give a loss of ln(3) for 3 classes
    assert run.result.sanity.initial_loss == pytest.approx(math.log(3), abs=0.01)
    assert run.result.sanity.ok


def test_same_spec_and_seed_give_identical_metrics(tmp_path):
    train_spec(stateful_spec(), out=tmp_path / "a")
    train_spec(stateful_spec(), out=tmp_path / "b")
    assert_same_run(tmp_path / "a", tmp_path / "b")
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 8 and json.loads(lines[-1])["epoch"] == 8


def test_a_different_seed_gives_different_metrics(tmp_path):
    train_spec(stateful_spec(), out=tmp_path / "a")
    train_spec(stateful_spec("seed=4"), out=tmp_path / "b")
    assert (tmp_path / "a" / "metrics.jsonl").read_bytes() != (tmp_path / "b" / "metrics.jsonl").read_bytes()


@pytest.mark.parametrize("where", [{"epoch": 3}, {"step": 13}], ids=["after-epoch-3", "mid-epoch-step-13"])
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, where):
    train_spec(stateful_spec(), out=tmp_path / "whole")
    stopper = InterruptAt(**where)
    with pytest.raises(TrainingInterrupted) as info:
        train_spec(stateful_spec(), out=tmp_path / "split", callbacks=stopper, on_trainer=stopper.attach)
    assert info.value.exit_code == 130
    saved = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.npz")
    if "step" in where:
        assert saved.meta["step"] == 13 and saved.meta["position"] > 0  # really mid-epoch
    else:
        assert saved.meta["epoch"] == 3 and saved.meta["position"] == 0
    resume_run(tmp_path / "split")
    assert_same_run(tmp_path / "whole", tmp_path / "split")


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    spec = load_spec("spiral", ["optimizer.lr=1e30", "train.batch_size=null", "train.epochs=5"])
    with pytest.raises(TrainingDiverged) as info:
        train_spec(spec, out=tmp_path / "run")
    message = info.value.render()
    assert info.value.exit_code == 1
    assert "step 2" in message and "learning rate" in message
    kept = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.npz")
    assert kept.meta["epoch"] == 1 and kept.meta["step"] == 1
    assert all(np.isfinite(p).all() for p in kept.params.values())


def test_early_stopping_restores_the_best_weights(tmp_path):
    # lr far too high after a good start: val loss stops improving, patience 2 ends the run
    spec = stateful_spec("train.epochs=60", "train.early_stopping.patience=2", "optimizer.lr=0.05",
                         "schedule.patience=1000")
    run = train_spec(spec, out=tmp_path / "run")
    history = run.result.history
    best = min(range(len(history)), key=lambda i: history[i].val_loss)
    assert run.result.stopped_early
    assert run.result.best_epoch == best + 1
    assert len(history) == best + 1 + 2  # stopped after `patience` epochs without improvement
    # the model now holds the best epoch's weights: evaluating them gives that epoch's val loss
    assert run.result.final["val_loss"] == pytest.approx(history[best].val_loss, rel=1e-5)


def test_early_stopping_on_validation_without_a_split_is_a_spec_error():
    with pytest.raises(SpecError, match="val_fraction") as caught:
        load_spec("spiral", ["train.early_stopping.monitor=val_loss"])
    assert caught.value.problems[0].path == "train.early_stopping.monitor"


def test_training_lands_on_the_weights_of_model_loss_and_grads_then_the_optimizer():
    """Full-batch epochs of the trainer (fused momentum steps on the fast layers) land on the
    weights of Model.loss_and_grads + optimizer.step on a reference-layer twin."""
    spec = load_spec("spiral", ["train.epochs=3", "train.batch_size=null"])
    reference_spec = load_spec("spiral", ["train.kernels=reference"])
    from bpcli.training.setup import load_dataset

    assert spec.optimizer["type"] == "momentum" and spec.regularization["strength"] > 0  # the case this is about
    data = load_dataset(spec)
    model = build_model(spec, data.input_shape, data.n_classes)
    twin = build_model(reference_spec, data.input_shape, data.n_classes)
    trainer = Trainer(model, data, options=spec.train, optimizer=build_optimizer(spec.optimizer, model.graph.params()),
                      schedule=build_schedule({"type": "constant"}), seed=0)
    result = trainer.run()
    reference = build_optimizer(spec.optimizer, twin.graph.params())
    losses = []
    for _ in range(3):
        parts = twin.loss_and_grads(data.X_train, data.y_train)
        reference.step(twin.graph.grads())
        losses.append((parts.data, parts.reg))
    for metrics, (data_loss, reg_loss) in zip(result.history, losses):
        assert metrics.train_loss == pytest.approx(data_loss, rel=1e-5)
        assert metrics.train_reg_loss == pytest.approx(reg_loss, rel=1e-5)
    for k, p in model.graph.params().items():
        np.testing.assert_allclose(p, twin.graph.params()[k], rtol=1e-5, atol=1e-7)


def test_overfit_drives_the_loss_near_zero_on_a_few_examples(tmp_path):
    spec = load_spec_text(STATEFUL.replace("dropout: 0.2", "dropout: 0.0"),
                          ["train.epochs=150", "train.early_stopping=null", "regularization.strength=0.1"])
    run = train_spec(spec, out=tmp_path / "run", overfit=10)
    assert len(run.data.X_train) == 10 and run.data.X_val is None
    assert run.result.history[0].train_loss > 0.5
    assert run.result.final["train_loss"] < 0.05
    assert run.result.final["train_accuracy"] == 1.0


def test_a_trained_run_loads_back_with_the_same_predictions(tmp_path):
    run = train_spec(stateful_spec("train.epochs=2"), out=tmp_path / "run")
    trained = load_trained(tmp_path / "run")
    assert trained.checkpoint_path.name == "last.npz"  # the weights summary.json describes
    X = run.data.X_val
    np.testing.assert_array_equal(trained.model.scores(X), run.model.scores(X))
