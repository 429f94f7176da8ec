"""Review findings on `bpcli gradcheck`: idempotent backward, the h sweep agreeing with the table,
non-finite values, built-in layers by name, and plain output that fits 100 columns."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.gradcheck.sweep import h_sweep

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = str(FIXTURES / "broken_layers.py")
runner = CliRunner()


def gradcheck_json(*args):
    result = runner.invoke(app, ["gradcheck", *args, "--format", "json"])
    return result, (json.loads(result.stdout) if result.stdout.strip().startswith("{") else None)


# ---- 1. backward must assign grads, not accumulate into them ------------------------------

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


# ---- 2. the h sweep uses the table's floored relative error --------------------------------

def test_the_sweep_agrees_with_the_table_at_the_checked_h():
    result, doc = gradcheck_json("spiral", "--h-sweep")
    sweep = doc["sweep"]
    check = next(c for c in doc["checks"] if c["name"] == sweep["name"])
    assert check["worst_index"] == sweep["where"]
    at_h = next(p for p in sweep["points"] if math.isclose(p["h"], doc["h"]))
    assert at_h["rel_error"] == pytest.approx(check["max_rel_error"], rel=1e-6)
    a = sweep["analytic"]
    for p in sweep["points"]:  # both columns recomputed from the definitions
        diff = abs(a - p["numeric"])
        assert p["raw_rel_error"] == pytest.approx(diff / max(abs(a), abs(p["numeric"])), rel=1e-9)
        assert p["rel_error"] == pytest.approx(
            diff / max(abs(a), abs(p["numeric"]), sweep["floor"]), rel=1e-9)


def test_h_sweep_floor_is_the_denominator_floor():
    steps = (1e-5, 1e-8)
    sweep = h_sweep("t", (), 1e-6, lambda h: 1e-6 + 1e-10, floor=1e-3, steps=steps)
    assert [p.rel_error for p in sweep.points] == pytest.approx([1e-10 / 1e-3] * 2)
    assert [p.raw_rel_error for p in sweep.points] == pytest.approx([1e-10 / (1e-6 + 1e-10)] * 2)


# ---- 3. inf / nan ------------------------------------------------------------------------

def test_an_overflow_is_nonfinite_with_a_hint_not_a_wrong_gradient():
    result, doc = gradcheck_json("exp(x)", "x=1000")  # e^1000 overflows float64
    assert result.exit_code == 1
    x = doc["checks"][0]
    assert x["status"] == "nonfinite" and x["analytic"] == "inf"
    assert any("inf" in h and "overflow" in h and "lower the input scale" in h for h in x["hints"])
    assert "not finite" in doc["verdict"] and "wrong" not in doc["verdict"]
    rich = runner.invoke(app, ["gradcheck", "exp(x)", "x=1000"])
    assert rich.exit_code == 1 and "nonfinite" in rich.stdout and "overflow" in rich.stdout


def test_a_finite_expression_next_to_it_is_still_judged():
    result, doc = gradcheck_json("exp(x) + y*y", "x=1000", "y=3")
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["x"]["status"] == "nonfinite" and result.exit_code == 1
    assert checks["y"]["analytic"] == pytest.approx(6.0)


# ---- 5. plain output: ≤ 100 columns, notes wrap at words with an indent ----------------------

PLAIN_CASES = [
    ["spiral", "--h-sweep"],
    ["spiral", "--split", "--mode", "directional"],
    ["--layer", "conv2d"],
    ["max(x, y) + abs(z)", "x=1", "y=1", "z=0"],
    ["exp(x)", "x=1000"],
    ["--layer", f"{BROKEN}:TransposedAffine"],
    ["--layer", f"{BROKEN}:AccumulatingShift"],
]
HEADS = ("gradcheck ", "at ", "PASSED", "FAILED", "h sweep", "expression ", "layer ", "spiral")


@pytest.mark.parametrize("args", PLAIN_CASES)
def test_plain_output_fits_100_columns_and_wraps_notes_at_words(args):
    result = runner.invoke(app, ["gradcheck", *args], env={"COLUMNS": "100"})
    lines = result.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 100, max(lines, key=len)
    for line in lines:  # a continuation of a note is indented, never flush left
        assert not line or line[0] == " " or line.startswith(HEADS), line


def test_the_kink_note_says_how_kinks_are_judged():
    result = runner.invoke(app, ["gradcheck", "spiral"], env={"COLUMNS": "100"})
    assert "judged against the one-sided derivatives on either side" in " ".join(result.stdout.split())


# ---- 4. built-in layers by name, with options and --shape -----------------------------------

def test_a_built_in_layer_by_name_with_options_and_a_shape():
    result, doc = gradcheck_json("--layer", "dense", "units=3", "--shape", "2,3")
    assert result.exit_code == 0 and doc["passed"], result.output
    shapes = {c["name"]: c["shape"] for c in doc["checks"]}
    # dense flattens (2, 3) to D = 6 inputs: W is (6, units), b is (units,), x is (batch, 2, 3)
    assert shapes["dense.W"] == [6, 3] and shapes["dense.b"] == [3]
    assert shapes["dense.x"][1:] == [2, 3]
    assert doc["target"]["kind"] == "built-in layer"


def test_a_built_in_layer_defaults_to_its_first_example():
    from bpcli.gradcheck.check import import_all_layers
    from bpcli.nn.layer import LAYERS

    import_all_layers()
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
