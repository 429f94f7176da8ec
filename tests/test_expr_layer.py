"""The `expr` layer: f(x) elementwise through the op table's NumPy forwards and partials."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bpcli.errors import SpecError
from bpcli.nn.layer import LAYERS
from bpcli.nn.layers.expr import Expr
from central_differences import numerical_gradient

FUNCTIONS = [
    ("x * sigmoid(x)", lambda x: x / (1 + math.exp(-x))),
    ("tanh(x)**2 - 3*x", lambda x: math.tanh(x) ** 2 - 3 * x),
    ("max(x, 0.5*x, -1) + abs(x)", lambda x: max(x, 0.5 * x, -1) + abs(x)),
    ("log(1 + x*x) / (2 + sin(x))", lambda x: math.log(1 + x * x) / (2 + math.sin(x))),
    (
        "sqrt(exp(x)) + min(x, 1) + relu(x - 0.3)",
        lambda x: math.sqrt(math.exp(x)) + min(x, 1) + max(x - 0.3, 0),
    ),
    ("2**x + x**3 - 1/(1+x*x) - -x", lambda x: 2**x + x**3 - 1 / (1 + x * x) + x),
    ("cos(x)*cos(x) + 7", lambda x: math.cos(x) ** 2 + 7),
]


@pytest.mark.parametrize("text, reference", FUNCTIONS)
def test_forward_is_the_function_elementwise(text, reference):
    x = np.random.default_rng(0).standard_normal((3, 4))
    out = Expr(f=text).forward(x)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, np.vectorize(reference)(x), rtol=1e-12)


@pytest.mark.parametrize("text, reference", FUNCTIONS)
def test_backward_matches_central_differences(text, reference):
    rng = np.random.default_rng(1)
    layer = Expr(f=text)
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    layer.forward(x)
    dx = layer.backward(dout)

    def loss():
        return float(np.sum(layer.forward(x) * dout))

    numeric, crossed = numerical_gradient(loss, x, kinks=layer.kink_state)
    keep = ~crossed
    assert keep.mean() > 0.8
    np.testing.assert_allclose(dx[keep], numeric[keep], rtol=1e-5, atol=1e-7)


def test_backward_never_modifies_dout_and_is_idempotent():
    layer = Expr(f="x")
    x = np.arange(6.0).reshape(2, 3)
    layer.forward(x)
    dout = np.ones((2, 3))
    first = layer.backward(dout)
    first_copy = first.copy()
    first += 5  # the caller may scribble on dx
    np.testing.assert_array_equal(dout, np.ones((2, 3)))
    np.testing.assert_array_equal(layer.backward(dout), first_copy)


def test_float32_stays_float32():
    layer = Expr(f="x * sigmoid(x) + 0.5")
    x = np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4)
    out = layer.forward(x)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32


def test_constant_expression_has_zero_gradient():
    layer = Expr(f="exp(1) + 2")
    x = np.zeros((2, 2))
    np.testing.assert_allclose(layer.forward(x), np.full((2, 2), math.e + 2))
    np.testing.assert_array_equal(layer.backward(np.ones((2, 2))), np.zeros((2, 2)))


def test_kink_state_is_the_side_of_every_kinky_gate():
    layer = Expr(f="relu(x) + abs(x - 1) + max(x, 0.5)")
    layer.forward(np.array([[-1.0, 0.7, 2.0]]))
    state = layer.kink_state()
    assert state.shape == (3, 1, 3)
    assert state[0].tolist() == [[0, 1, 1]]
    assert state[1].tolist() == [[-1, -1, 1]]
    assert state[2].tolist() == [[1, 0, 0]]
    assert Expr(f="x * sigmoid(x)").kink_state() is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("x * sigmod(x)", "did you mean 'sigmoid'"),
        ("x*y", "only the variable x"),
        ("x +", "column 4"),
        ("__import__('os')", "string"),
    ],
)
def test_bad_expression_is_a_spec_error_naming_f(text, message):
    with pytest.raises(SpecError) as info:
        Expr(f=text)
    assert message in str(info.value) and info.value.problems[0].path == "f"


def test_registered_with_f_as_its_shorthand():
    assert LAYERS.get("expr") is Expr and Expr.shorthand == "f"


@pytest.mark.parametrize("f", ["sum(x)", "x@x", "x.T", "softmax(x)", "x[0]"])
def test_gates_that_mix_entries_are_refused_with_a_spec_error(f):
    with pytest.raises(SpecError, match="must work entry by entry"):
        Expr(f=f)
