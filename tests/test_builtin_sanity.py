"""Built-in specs pass their own sanity check; an output width that does not fit the classes is
an error naming both numbers; `regularization: null` is off; sigmoid keeps relative precision."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

import numpy as np
import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.errors import SpecError
from bpcli.spec import load_spec

runner = CliRunner()
NO_DOWNLOAD = ["spiral", "spiral-3layer", "xor", "moons", "residual", "cnn", "expr-activation", "user-layer"]


@pytest.mark.parametrize("name", NO_DOWNLOAD)
def test_every_builtin_spec_passes_its_own_sanity_check(name):
    from bpcli.data import load_data
    from bpcli.spec.build import build_model

    spec = load_spec(name)
    data = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed)
    model = build_model(spec, data.input_shape, data.n_classes)
    loss = float(model.loss_fn.value(model.scores(data.X_train.astype(np.float32)), data.y_train))
    expected = model.loss_fn.expected_initial_loss(data.n_classes)
    assert abs(loss - expected) <= 0.1 * expected, (name, loss, expected)


@pytest.mark.parametrize(
    "loss, units, classes, fragment",
    [("softmax_cross_entropy", 3, 2, "gives 3 scores per example, but the data has 2 classes"),
     ("svm", 2, 3, "3 classes but the model has 2 outputs"),
     ("bce_with_logits", 2, 2, "gives 2 scores per example, but the data has 2 classes and bce_with_logits needs 1"),
     ("bce_with_logits", 1, 3, "bce_with_logits is for 2 classes")],
)
def test_an_output_width_that_does_not_fit_the_classes_names_both_numbers(loss, units, classes, fragment):
    result = runner.invoke(app, ["train", "spiral", f"model.2.units={units}", f"loss.type={loss}",
                                 f"data.classes={classes}", "-q"])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "Traceback" not in result.output


def test_bce_with_one_logit_for_two_classes_trains(tmp_path):
    result = runner.invoke(app, ["train", "spiral", "model.2.units=1", "loss.type=bce_with_logits",
                                 "data.classes=2", "train.epochs=2", "-q", "-o", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("override", ["regularization=null", "regularization=~"])
def test_regularization_null_means_off(override):
    assert load_spec("spiral", [override]).regularization["type"] == "none"
    assert load_spec("spiral").regularization["type"] == "l2"


def test_null_for_a_section_without_an_off_is_an_error():
    with pytest.raises(SpecError, match="null is not a optimizer|null is not an optimizer"):
        load_spec("spiral", ["optimizer=null"])


def _reference_sigmoid(x: float) -> float:
    getcontext().prec = 40
    return float(1 / (1 + (-Decimal(float(x))).exp()))


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 4e-7), (np.float64, 1e-15)])
def test_the_sigmoid_layer_keeps_relative_precision_over_minus_80_to_80(dtype, tolerance):
    from bpcli.nn.layers.activations import Sigmoid

    x = np.linspace(-80, 80, 3201).astype(dtype).reshape(1, -1)
    out = Sigmoid().forward(x)
    assert out.dtype == dtype
    reference = np.array([_reference_sigmoid(v) for v in x.ravel()])
    reference = reference.astype(dtype).astype(np.float64)  # the best the dtype can hold
    relative = np.abs(out.ravel().astype(np.float64) - reference) / reference
    assert relative.max() <= tolerance, (x.ravel()[relative.argmax()], relative.max())
    assert out[0, 0] > 0  # σ(-80) = 1.8e-35: a float32 normal number, not 0
