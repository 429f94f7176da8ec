"""`bpcli gradcheck` end to end: targets, modes, JSON keys, exit codes, example specs."""

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.gradcheck.compare import OK_MAX
from bpcli.commands.gradcheck_request import GradcheckRequest, run_request
from bpcli.spec import builtin_names, load_spec

FIXTURES = Path(__file__).parent / "fixtures"
TINY = str(FIXTURES / "gradcheck_tiny.yaml")
USER_BROKEN = str(FIXTURES / "gradcheck_user_layer.yaml")
runner = CliRunner()


def gradcheck_json(*args):
    result = runner.invoke(app, ["gradcheck", *args, "--format", "json"])
    return result, (json.loads(result.stdout) if result.stdout.strip().startswith("{") else None)


def by_name(doc):
    return {c["name"]: c for c in doc["checks"]}


# ---- expressions -------------------------------------------------------------------------

def test_expression_gradients_match_the_calculus():
    result, doc = gradcheck_json("x*sigmoid(x)", "x=0.3")
    assert result.exit_code == 0 and doc["passed"]
    s = 1 / (1 + math.exp(-0.3))
    x = by_name(doc)["x"]
    assert x["analytic"] == pytest.approx(s + 0.3 * s * (1 - s), rel=1e-12)  # d/dx x·σ(x)
    assert x["status"] == "ok" and x["max_rel_error"] <= OK_MAX
    assert doc["target"]["kind"] == "expression" and doc["inputs"] == {"x": 0.3}
    assert set(doc) >= {"passed", "mode", "checks"}
    assert set(x) >= {"name", "max_rel_error", "status", "worst_index", "analytic", "numeric"}


def test_the_lecture_sigmoid_neuron():
    values = ["w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
    result, doc = gradcheck_json("1/(1+exp(-(w0*x0+w1*x1+w2)))", *values)
    assert result.exit_code == 0
    grads = {name: c["analytic"] for name, c in by_name(doc).items()}
    expected = {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}
    assert {k: round(v, 2) for k, v in grads.items()} == expected


def test_unassigned_variables_are_drawn_with_the_seed():
    _, first = gradcheck_json("x*y + z", "x=1", "--seed", "4")
    _, again = gradcheck_json("x*y + z", "x=1", "--seed", "4")
    assert first["drawn"] == ["y", "z"] and first["inputs"] == again["inputs"]
    assert by_name(first)["x"]["analytic"] == pytest.approx(first["inputs"]["y"])


def test_an_expression_kink_is_reported_not_failed():
    result, doc = gradcheck_json("max(x, y) + abs(z)", "x=1", "y=1", "z=0")
    assert result.exit_code == 0 and doc["passed"]
    checks = by_name(doc)
    assert {n: c["status"] for n, c in checks.items()} == {"x": "kink", "y": "kink", "z": "kink"}
    assert checks["z"]["kink_details"], "the sides at θ, θ+h, θ−h are recorded"


def test_h_sweep_covers_1e_1_to_1e_10():
    result, doc = gradcheck_json("exp(x)", "x=0.7", "--h-sweep")
    assert result.exit_code == 0
    points = doc["sweep"]["points"]
    assert [p["h"] for p in points] == pytest.approx([10.0 ** -e for e in range(1, 11)])
    errors = {p["h"]: p["rel_error"] for p in points}
    assert errors[0.1] == pytest.approx(0.1**2 / 6, rel=0.01)  # sinh(h)/h − 1 ≈ h²/6
    assert errors[1e-5] < 1e-9 < errors[1e-10]
    rich = runner.invoke(app, ["gradcheck", "exp(x)", "x=0.7", "--h-sweep"])
    assert "h sweep" in rich.stdout and "1e-10" in rich.stdout


# ---- usage errors: exit 2, one line, no traceback ------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["x+*y"], "^"),
    (["spirl"], "did you mean 'spiral'"),
    (["nope/missing.yaml"], "not found"),
    ([str(FIXTURES / "spiral")], "not a spec file"),  # an existing folder: a path, not a division
    (["x*y", "y"], "NAME=VALUE"),
    (["x*y", "q=1"], "not a variable"),
    (["3*4"], "no variables"),
    (["x*y", "--split"], "apply to specs"),
    (["--layers", "--split"], "--split"),
    (["--layers", "x=1"], "give the TARGET"),
    (["spiral", "--mode", "fast"], "--mode"),
    (["spiral", "--format", "xml"], "--format"),
    (["spiral", "--k", "0"], "--k"),
    (["spiral", "--h", "2"], "--h"),
    ([], "nothing to check"),
    (["--layer", "nowhere.py:Thing"], "not found"),
    (["spiral", "model.0.unitz=3"], "unitz"),
])
def test_bad_usage_exits_2_with_a_message(args, words):
    result = runner.invoke(app, ["gradcheck", *args])
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "Traceback" not in result.output + result.stderr


# ---- specs -------------------------------------------------------------------------------

def test_a_spec_checks_every_parameter_and_the_input_and_holds_dropout_fixed():
    result, doc = gradcheck_json(TINY)
    assert result.exit_code == 0, result.output
    names = set(by_name(doc))
    assert names == {"input", "dense1.W", "dense1.b", "dense2.W", "dense2.b"}
    for c in doc["checks"]:
        assert c["status"] in ("ok", "kink")
        if c["status"] == "ok":
            assert c["max_rel_error"] <= OK_MAX
    assert by_name(doc)["input"]["shape"] == [8, 2]  # default batch of 8


def test_split_checks_data_loss_and_regularization_separately():
    result, doc = gradcheck_json(TINY, "--split")
    assert result.exit_code == 0
    names = set(by_name(doc))
    assert {"data:input", "data:dense1.W", "reg:dense1.W", "reg:dense2.W"} <= names
    assert not any(n.startswith("reg:") and n.endswith(".b") for n in names)  # biases are not regularized
    # L2 regularization 0.5·λ·ΣW²: its gradient λW, checked independently
    spec = load_spec(TINY)
    reg = by_name(doc)["reg:dense1.W"]
    assert reg["analytic"] == pytest.approx(reg["numeric"], rel=1e-6)
    assert spec.regularization["strength"] == 0.05


def test_overrides_and_batch_apply():
    result, doc = gradcheck_json(TINY, "model.0.units=5", "--batch", "3")
    assert result.exit_code == 0
    checks = by_name(doc)
    assert checks["dense1.W"]["shape"] == [2, 5] and checks["input"]["shape"] == [3, 2]


def test_sparse_and_directional_modes_check_k_entries_or_directions():
    _, sparse = gradcheck_json(TINY, "--mode", "sparse", "--k", "3")
    assert sparse["mode"] == "sparse" and all(c["entries"] == min(3, math.prod(c["shape"])) for c in sparse["checks"])
    _, directional = gradcheck_json(TINY, "--mode", "directional", "--k", "4")
    assert directional["mode"] == "directional" and directional["passed"]
    assert all(c["entries"] == 4 and c["worst_index"].startswith("v") for c in directional["checks"])


def test_a_broken_user_layer_in_a_spec_fails_naming_the_parameter_in_every_mode():
    for mode in ("full", "sparse", "directional"):
        result, doc = gradcheck_json(USER_BROKEN, "--mode", mode)
        assert result.exit_code == 1, (mode, result.output)
        failed = [c for c in doc["checks"] if c["status"] == "fail"]
        assert [c["name"] for c in failed] == ["halfsquaredscale1.w"], mode
        assert any("factor 2 missing" in h for h in failed[0]["hints"]), (mode, failed[0]["hints"])


def test_layers_checks_each_layer_of_a_spec_alone():
    result, doc = gradcheck_json(USER_BROKEN, "--layers")
    assert result.exit_code == 1
    statuses = {c["name"]: c["status"] for c in doc["checks"]}
    assert statuses["halfsquaredscale1.w"] == "fail"
    assert statuses["dense1.x"] == statuses["dense1.W"] == statuses["dense2.b"] == "ok"


def test_every_built_in_layer_with_no_target():
    result, doc = gradcheck_json("--layers")
    assert result.exit_code == 0 and doc["target"]["kind"] == "built-in layers"
    assert any(c["name"].startswith("dense") for c in doc["checks"])


def test_rich_output_has_the_table_and_a_verdict():
    result = runner.invoke(app, ["gradcheck", TINY], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    out = result.stdout
    for column in ("parameter", "shape", "checked", "max rel err", "worst index", "analytic", "numeric", "status"):
        assert column in out
    assert "full mode (auto)" in out and "PASSED" in out and "\x1b[" not in out


# ---- the example specs -------------------------------------------------------------------

def _config_params():
    return [pytest.param(name, id=name) for name in builtin_names()]


@pytest.mark.parametrize("name", _config_params())
def test_every_example_spec_passes_in_float64(name):
    report = run_request(GradcheckRequest(target=name)).report  # on the small datasets of conftest
    assert report.passed, report.verdict()
    for check in report.checks:
        assert check.status in ("ok", "kink"), (check.name, check.status, check.max_rel_error)
        if check.status == "ok":
            assert check.max_rel_error <= OK_MAX
    assert "input" in {c.name for c in report.checks}


def test_layer_options_come_from_name_value_tokens():
    result, doc = gradcheck_json("--layer", "bpcli.nn.layers.dense:Dense", "units=7")
    assert result.exit_code == 0, result.output
    shapes = [c["shape"] for c in doc["checks"] if c["name"].endswith(".W")]
    assert shapes and all(s[-1] == 7 for s in shapes)


def test_a_tiny_h_drowns_gradients_in_round_off_and_says_so():
    # L ≈ 1, so the round-off ε·|L|/h at h = 1e-12 is ~2e-4: a gradient of 1e-6 cannot be judged
    result, doc = gradcheck_json("1e-6*x + 1", "x=1", "--h", "1e-12")
    assert result.exit_code == 0 and by_name(doc)["x"]["status"] == "small"
    assert "round-off level" in doc["verdict"] and "--h-sweep" in doc["verdict"]
