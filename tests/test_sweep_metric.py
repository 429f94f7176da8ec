"""The sweep's objective: which validation metric, and the error for a spec without a validation split."""

import pytest

from bpcli.errors import SpecError, UsageError
from bpcli.training.setup import load_dataset
from bpcli.spec import load_spec
from bpcli.sweep.config import SweepConfig, choose_metric


def _spec_and_data(*overrides):
    spec = load_spec("spiral", ["data.val_fraction=0.2", *overrides])
    return spec, load_dataset(spec)


def test_default_is_val_accuracy_maximized():
    spec, data = _spec_and_data()
    metric = choose_metric(spec, data, None, "spiral")
    assert metric == "val_accuracy"
    assert SweepConfig("spiral", [], metric, 1, "s").direction == "maximize"


def test_the_early_stopping_monitor_wins_and_loss_is_minimized():
    spec, data = _spec_and_data("train.early_stopping.monitor=val_loss")
    metric = choose_metric(spec, data, None, "spiral")
    assert metric == "val_loss" and SweepConfig("spiral", [], metric, 1, "s").direction == "minimize"
    assert choose_metric(spec, data, "val_accuracy", "spiral") == "val_accuracy"  # --metric wins


def test_no_validation_split_and_unknown_metric_are_errors():
    spec = load_spec("spiral")
    with pytest.raises(SpecError, match=r"data.val_fraction=0.2"):
        choose_metric(spec, load_dataset(spec), None, "spiral")
    spec, data = _spec_and_data()
    with pytest.raises(UsageError, match="unknown --metric"):
        choose_metric(spec, data, "test_accuracy", "spiral")
