"""Every built-in layer passes alone in float64 (by name, with options and --shape); broken user
layers are caught with the right hint (an accumulating backward names its parameter)."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.gradcheck.compare import OK_MAX
from bpcli.gradcheck.runner import run_gradcheck
from bpcli.gradcheck.targets import layer_objective
from bpcli.gradcheck.check import import_all_layers
from bpcli.nn.layer import LAYERS

import_all_layers()  # every module under bpcli/nn/layers: a new layer file is enrolled on its own

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = FIXTURES / "broken_layers.py"
runner = CliRunner()


def registered_examples():
    """(layer name, options, input shape) for every example of every registered layer, at run time."""
    return [(name, opts, shape) for name, cls in LAYERS.items() for opts, shape in cls.examples]


def test_every_registered_layer_has_at_least_one_example_checked():
    names = {name for name, _, _ in registered_examples()}
    assert names == set(LAYERS.names()) and "dense" in names


@pytest.mark.parametrize("name, options, shape", registered_examples(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_every_built_in_layer_passes_in_float64(name, options, shape):
    layer = LAYERS.get(name)(**options)
    report = run_gradcheck([layer_objective(layer, shape, seed=1, prefix=f"{name}.")], mode="full")
    assert report.passed, report.verdict()
    assert not report.objectives[0].notes  # backward left dout alone
    for check in report.checks:
        assert check.status in ("ok", "kink"), (check.name, check.status, check.max_rel_error)
        if check.status == "ok":
            assert check.max_rel_error <= OK_MAX
        assert check.entries == int(np.prod(check.shape))
    params = set(layer.params)
    checked = {c.name.split(".", 1)[1] for c in report.checks}
    assert params <= checked and ({"x"} <= checked or any(n.startswith("x") for n in checked))


BROKEN_CASES = [
    # (broken class, parameter it gets wrong, words the hint must contain)
    ("HalfSquaredScale", "w", "factor 2 missing"),
    ("TransposedAffine", "W", "transposed weight gradient"),
    ("SquareTransposedAffine", "W", "transposed weight gradient"),
    ("BiasNotSummedAffine", "b", "not summed over the batch"),
    ("WrongSignShift", "b", "sign error"),
    ("ForgetsUpstreamAffine", "W", "forgot to multiply by dout"),
]
TWINS = ["SquaredScale", "Affine", "Shift"]


@pytest.mark.parametrize("cls, param, hint", BROKEN_CASES)
def test_a_broken_user_layer_exits_1_and_names_the_parameter_and_the_mistake(cls, param, hint):
    result = runner.invoke(app, ["gradcheck", "--layer", f"{BROKEN}:{cls}", "--format", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["passed"] is False
    failed = [c for c in doc["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == [f"{cls}.{param}"]
    assert any(hint in h for h in failed[0]["hints"]), failed[0]["hints"]


@pytest.mark.parametrize("cls", BROKEN_CASES)
def test_the_rich_output_names_the_parameter_and_the_hint(cls):
    name, param, hint = cls
    result = runner.invoke(app, ["gradcheck", "--layer", f"{BROKEN}:{name}"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert f"{name}.{param}" in result.stdout and "FAILED" in result.stdout
    assert hint in " ".join(result.stdout.split())


@pytest.mark.parametrize("cls", TWINS)
def test_the_correct_twins_pass(cls):
    result = runner.invoke(app, ["gradcheck", "--layer", f"{BROKEN}:{cls}", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["passed"] and all(c["status"] == "ok" for c in doc["checks"])
    assert max(c["max_rel_error"] for c in doc["checks"]) <= OK_MAX


def test_a_backward_that_modifies_dout_fails():
    from bpcli.nn.layer import Layer

    class Scales(Layer):
        def forward(self, x):
            return 3 * x

        def backward(self, dout):
            dout *= 3  # in place: forbidden
            return dout

    report = run_gradcheck([layer_objective(Scales(), (4,))], mode="full")
    assert not report.passed and "modified dout" in report.verdict()


def test_a_user_layer_with_a_kink_reports_it_instead_of_failing():
    import importlib.util

    spec = importlib.util.spec_from_file_location("broken_layers_fixture", BROKEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    layer = module.LeakyCube()
    obj = layer_objective(layer, (3,), seed=0)
    obj.params["x"][0, 0] = 3e-6  # within h = 1e-5 of relu's kink
    report = run_gradcheck([obj], mode="full")
    x = report.checks[0]
    assert report.passed and x.kinks == 1
    index, crossing = x.kink_details[0]
    assert index == (0, 0) and crossing.counts == {"layer": 1}


def test_a_parameter_without_a_gradient_fails_and_says_so():
    from bpcli.nn.layer import Layer

    class Forgets(Layer):
        """out = x + b, but backward never sets grads['b']."""

        def build(self, input_shape, rng, dtype):
            self.params["b"] = rng.standard_normal(input_shape)
            return input_shape

        def forward(self, x):
            return x + self.params["b"]

        def backward(self, dout):
            return dout.copy()

    report = run_gradcheck([layer_objective(Forgets(), (3,), prefix="f.")], mode="full")
    assert [c.name for c in report.checks] == ["f.x", "f.b"]
    b = report.checks[1]
    assert b.status == "fail" and "did not set a gradient for 'b'" in b.hints[0]

def gradcheck_json(*args):
    result = runner.invoke(app, ["gradcheck", *args, "--format", "json"])
    return result, (json.loads(result.stdout) if result.stdout.strip().startswith("{") else None)


# ---- backward must assign grads, not accumulate into them --------------------------------

def test_an_accumulating_backward_fails_naming_the_parameter():
    result, doc = gradcheck_json("--layer", f"{BROKEN}:AccumulatingShift")
    assert result.exit_code == 1, result.output
    failed = [c for c in doc["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["AccumulatingShift.b"]
    assert any("backward accumulates into grads instead of assigning them" in h
               for h in failed[0]["hints"])
    assert "AccumulatingShift.b" in doc["verdict"]


def test_the_assigning_twin_still_passes():
    result, doc = gradcheck_json("--layer", f"{BROKEN}:Shift")
    assert result.exit_code == 0 and doc["passed"]


# ---- built-in layers by name, with options and --shape --------------------------------------

def test_a_built_in_layer_by_name_with_options_and_a_shape():
    result, doc = gradcheck_json("--layer", "dense", "units=3", "--shape", "2,3")
    assert result.exit_code == 0 and doc["passed"], result.output
    shapes = {c["name"]: c["shape"] for c in doc["checks"]}
    # dense flattens (2, 3) to D = 6 inputs: W is (6, units), b is (units,), x is (batch, 2, 3)
    assert shapes["dense.W"] == [6, 3] and shapes["dense.b"] == [3]
    assert shapes["dense.x"][1:] == [2, 3]
    assert doc["target"]["kind"] == "built-in layer"


def test_a_built_in_layer_defaults_to_its_first_example():
    options, shape = LAYERS.get("dense").examples[0]
    result, doc = gradcheck_json("--layer", "dense")
    assert result.exit_code == 0
    w = next(c for c in doc["checks"] if c["name"] == "dense.W")
    assert w["shape"] == [int(np.prod(shape)), options["units"]]


def test_one_shape_serves_every_input_of_a_multi_input_layer():
    result, doc = gradcheck_json("--layer", "add", "--shape", "4")
    assert result.exit_code == 0
    assert [c["name"] for c in doc["checks"]] == ["add.x0", "add.x1"]
    assert all(c["shape"][1:] == [4] for c in doc["checks"])


@pytest.mark.parametrize("args, words", [
    (["--layer", "dens"], "did you mean 'dense'"),
    (["--layer", "dense", "unit=3"], "did you mean 'units'"),
    (["--layer", "relu", "--shape", "0"], "--shape"),
    (["--layer", "relu", "--shape", "4;4"], "one input"),
    (["spiral", "--shape", "4"], "--shape"),
])
def test_bad_layer_names_options_and_shapes_exit_2(args, words):
    result = runner.invoke(app, ["gradcheck", *args])
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "Traceback" not in result.output + result.stderr
