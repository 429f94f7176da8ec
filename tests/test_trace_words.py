"""The words a student types into `bpcli trace`: constants, other languages' function names,
implicit products, spaced assignments, misspelt options; and backward rows that multiply out."""

from __future__ import annotations

import math
import re

import pytest
from typer.testing import CliRunner

from bpcli.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    "expression, values, expected",
    [
        ("1/(1+e^(-x))", ["x=0"], 0.5),  # the sigmoid written with e: σ(0) = 1/2
        ("2*pi*r", ["r=1"], 2 * math.pi),
        ("e", [], math.e),
        ("log(e)", [], 1.0),
    ],
)
def test_e_and_pi_are_constants_in_trace(expression, values, expected):
    result = run("trace", expression, *values, "--format", "json")
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(result.stdout)
    assert report["output"] == pytest.approx(expected, rel=1e-12)
    assert "e" not in report["inputs"] and "pi" not in report["inputs"]


def test_sigmoid_written_with_e_has_the_lecture_gradient():
    import json

    report = json.loads(run("trace", "1/(1+e^(-x))", "x=0", "--format", "json").stdout)
    assert report["gradients"] == {"x": pytest.approx(0.25, rel=1e-12)}  # σ(1-σ) at 0


@pytest.mark.parametrize("command", ["trace", "gradcheck"])
@pytest.mark.parametrize("name", ["e", "pi"])
def test_giving_a_constant_a_value_is_an_error_that_says_it_is_a_constant(command, name):
    result = run(command, f"{name}*x", f"{name}=2", "x=1")
    assert result.exit_code == 2
    assert f"'{name}' is a constant" in result.stderr
    assert "Traceback" not in result.output


def test_the_expr_layer_reads_e_and_pi_as_constants():
    import numpy as np

    from bpcli.nn.layers.expr import Expr

    layer = Expr(f="x*e + pi")
    x = np.array([[0.0, 1.0]])
    assert np.allclose(layer.forward(x), [[math.pi, math.e + math.pi]], rtol=1e-12)


def test_e_in_a_gradcheck_expression_is_not_a_parameter():
    import json

    result = run("gradcheck", "e^x", "x=0.5", "--format", "json")
    assert result.exit_code == 0, result.output
    names = [check["name"] for check in json.loads(result.stdout)["checks"]]
    assert names == ["x"]


@pytest.mark.parametrize(
    "expression, suggestion",
    [
        ("ln(x)", "did you mean 'log'?"),
        ("2(x+1)", "did you mean 2*(x+1)?"),
        ("(x+1)(x-1)", "did you mean (x+1)*(x-1)?"),
        ("3*x + y (z-1)", "did you mean y*(z-1)?"),
        ("a(b+c)", "did you mean a*(b+c)?"),
    ],
)
def test_parse_errors_suggest_what_was_meant(expression, suggestion):
    result = run("trace", expression)
    assert result.exit_code == 2
    assert suggestion in result.stderr


@pytest.mark.parametrize("tokens", [["x", "=", "3"], ["x", "=3"], ["x=", "3"]])
def test_an_assignment_typed_with_spaces_says_why_it_fails(tokens):
    result = run("trace", "x*y", *tokens, "y=1")
    assert result.exit_code == 2
    assert "without spaces" in result.stderr and "x=3" in result.stderr


def test_a_misspelt_option_of_trace_is_no_such_option_with_a_suggestion():
    result = run("trace", "x*y", "x=1", "--exprt", "a.svg")
    assert result.exit_code == 2
    assert "No such option: --exprt" in result.output
    assert "--export" in result.output
    assert "expected NAME=VALUE" not in result.output


def test_an_expression_starting_with_minus_is_still_an_expression():
    result = run("trace", "-x**2", "x=2", "--format", "json")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"],
        ["x*x*y", "x=3", "y=2"],
        ["sigmoid(w*x+b)*3.7 - tanh(x/7)", "--seed", "4"],
        ["max(x, y)*exp(x*y)/(1+x)", "x=0.123", "y=-2.345"],
    ],
)
def test_every_backward_product_on_screen_multiplies_out(args):
    out = run("trace", *args).stdout
    backward = out.split("Backward pass", 1)[1].split("Gate roles", 1)[0]
    products = re.findall(r"(-?[\d.e+-]+)×(-?[\d.e+-]+) = (-?[\d.e+-]+)", backward)
    assert products
    for left, right, shown in products:
        decimals = len(shown.split(".")[1]) if "." in shown and "e" not in shown else None
        product = float(left) * float(right)
        if decimals is not None:
            assert f"{product:.{decimals}f}" == f"{float(shown):.{decimals}f}", (left, right, shown)
        else:
            assert product == pytest.approx(float(shown), rel=5e-3), (left, right, shown)


def test_the_sigmoid_neurons_w1_row_shows_enough_digits():
    out = run("trace", "1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2",
              "w2=-3").stdout
    assert "0.20×-2 = -0.39" not in out
    assert "0.1966×-2 = -0.3932" in out


def test_the_legend_names_each_gate_as_the_table_does():
    out = run("trace", "1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2",
              "w2=-3").stdout
    backward, legend = out.split("Backward pass", 1)[1].split("Gate roles:", 1)
    legend = " ".join(legend.split("\nf = ")[0].split())
    gates = set(re.findall(r"^ n\d+ (\S+)", backward, flags=re.M))
    assert gates == {"1/x", "+1", "exp", "*-1", "+", "*"}
    for gate in gates:
        assert re.search(rf"(^|; |, ){re.escape(gate)}( |,)", legend), (gate, legend)
    for op_name in ("mul", "neg", "recip", "add"):
        assert not re.search(rf"(^|; ){op_name} ", legend), legend
