"""The expression grammar: precedence as in Python, errors with columns, size limits, printing."""

from __future__ import annotations

import math

import pytest

from bpcli.errors import ExprError
from bpcli.expr import parse, to_text
from bpcli.expr.parse import MAX_CHARS, tokenize


@pytest.mark.parametrize(
    "text, values, expected",
    [
        ("-x**2", {"x": 3}, -9.0),  # -(x**2), as in Python
        ("2**-x", {"x": 1}, 0.5),
        ("2**3**2", {}, 512.0),  # right-associative: 2**(3**2)
        ("2^3^2", {}, 512.0),  # ^ is a synonym of **
        ("(2**3)**2", {}, 64.0),
        ("x - y - z", {"x": 10, "y": 3, "z": 2}, 5.0),  # left-associative
        ("x / y / z", {"x": 12, "y": 3, "z": 2}, 2.0),
        ("1 + 2 * 3", {}, 7.0),
        ("-x * y", {"x": 2, "y": 3}, -6.0),
        ("--x", {"x": 2}, 2.0),
        ("+x - -y", {"x": 1, "y": 2}, 3.0),
        ("x**-y*z", {"x": 2, "y": 1, "z": 4}, 2.0),  # (x**(-y))*z
        ("2**-x**2", {"x": 2}, 2.0**-4),
        ("-2**2", {}, -4.0),
        ("(-2)**2", {}, 4.0),
        ("2.5e-1 * 4", {}, 1.0),
        (".5 + 3.", {}, 3.5),
        ("max(x, y, 3) + min(x, y)", {"x": 1, "y": 2}, 4.0),
        ("sigmoid(0) + relu(-1) + abs(-2) + sqrt(9)", {}, 5.5),
        ("exp(log(x))", {"x": 2.5}, 2.5),
        ("sin(0) + cos(0) + tanh(0)", {}, 1.0),
        ("1/x", {"x": 4}, 0.25),
        ("3*(a+b*c)", {"a": 5, "b": 4, "c": 2}, 39.0),
    ],
)
def test_precedence_and_values_follow_python(text, values, expected):
    assert parse(text).evaluate(values) == pytest.approx(expected)


def test_a_variable_used_twice_is_one_node_and_variables_keep_first_appearance_order():
    graph = parse("y*x*x + y")
    assert graph.variables == ["y", "x"]
    assert sum(1 for n in graph.nodes if n.op == "var") == 2


@pytest.mark.parametrize(
    "text, column, words",
    [
        ("x.y", 1, "attribute"),
        ("__import__('os')", 11, "string"),
        ("lambda x: x", 8, "lambda"),
        ("x[1:2]", 3, "slices"),
        ("x.Y", 1, "only .T"),
        ("x[y", 1, "'[' is never closed"),
        ("x]", 1, "without a matching '['"),
        ("(x]", 2, "where ')' was expected"),
        ("sum(x, axis=1.5)", 12, "takes an integer"),
        ("sum(x, axi=1)", 0, "did you mean 'axis'"),
        ("exp(x, axis=0)", 0, "exp() has no option 'axis'"),
        ("sum(x, axis=1, axis=0)", 15, "given twice"),
        ("x;y", 1, ";"),
        ('"x"', 0, "string"),
        ("(x+y", 0, "never closed"),
        ("x+y)", 3, "without a matching"),
        ("x +", 3, "ends"),
        ("*x", 0, "expected a number"),
        ("2x", 1, "2*x"),
        ("x y", 2, "operator"),
        ("x = 1", 2, "NAME=VALUE"),
        ("exp + 1", 0, "exp(...)"),
        ("f(x)", 0, "unknown function"),
        ("x, y", 1, "outside a function call"),
        ("max(x,)", 6, "expected a number"),
        ("x % y", 2, "unexpected character"),
        ("x @ @ y", 4, "expected a number"),
        ("x $ y", 2, "unexpected character"),
        ("3 if x else 2", 2, "operator"),
        ("exp(x)(y)", 6, "operator"),
        ("1e400*x", 0, "too large"),
        ("x + 2e308", 4, "overflows to inf"),
        ("Δ+1", 0, "ASCII letters, digits and _"),
        ("xΔ+1", 1, "ASCII letters, digits and _"),
        ("éx", 0, "ASCII letters, digits and _"),
    ],
)
def test_anything_outside_the_grammar_is_an_error_at_its_column(text, column, words):
    with pytest.raises(ExprError) as info:
        parse(text)
    assert info.value.column == column
    assert words in info.value.message
    rendered = info.value.render().splitlines()
    assert rendered[1].strip() == text.strip() and rendered[2].index("^") - 2 == column


def test_unknown_function_suggests_the_closest_name():
    with pytest.raises(ExprError, match="did you mean 'sigmoid'"):
        parse("sigmod(x)")


@pytest.mark.parametrize(
    "text, message",
    [
        ("max()", r"max\(\) takes 1 argument or 2 or more arguments, got 0"),
        ("exp(x, y)", r"exp\(\) takes 1 argument, got 2"),
        ("min()", r"min\(\) takes 1 argument or 2 or more arguments, got 0"),
        ("relu()", r"relu\(\) takes 1 argument, got 0"),
    ],
)
def test_wrong_number_of_arguments_is_named(text, message):
    with pytest.raises(ExprError, match=message):
        parse(text)


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_empty_input_is_an_error(text):
    with pytest.raises(ExprError, match="empty"):
        parse(text)


def test_absurdly_long_input_is_refused_before_tokenizing():
    with pytest.raises(ExprError, match="too long"):
        parse("x+" * (MAX_CHARS // 2) + "x")


def test_caret_rendering_is_skipped_for_very_long_expressions():
    text = "x+" * 300 + "#"
    with pytest.raises(ExprError) as info:
        parse(text)
    assert "column 601" in info.value.render() and "\n" not in info.value.render()


def test_5000_nested_parentheses_and_functions_parse_and_differentiate_without_recursion():
    deep = "(" * 5000 + "x" + ")" * 5000
    assert parse(deep).gradients({"x": 2.0}) == (2.0, {"x": 1.0})
    nested = "sin(" * 5000 + "x" + ")" * 5000
    graph = parse(nested)
    assert len(graph) == 5001
    value, grads = graph.gradients({"x": 0.1})
    expected_value, expected_grad = 0.1, 1.0
    for _ in range(5000):
        expected_grad *= math.cos(expected_value)
        expected_value = math.sin(expected_value)
    assert value == pytest.approx(expected_value) and grads["x"] == pytest.approx(expected_grad)
    assert to_text(graph) == nested


@pytest.mark.slow
def test_100000_node_expression_traces():
    text = "x" + "+x*0.5" * 33333  # 3 nodes per term
    graph = parse(text)
    assert len(graph) >= 100_000
    value, grads = graph.gradients({"x": 2.0})
    assert value == pytest.approx(2.0 + 33333) and grads["x"] == pytest.approx(1 + 0.5 * 33333)
    assert parse(to_text(graph)).structure() == graph.structure()


def test_tokens_carry_columns_and_caret_is_a_power():
    assert [(t.kind, t.column) for t in tokenize("a ^ 2")] == [("name", 0), ("**", 2), ("num", 4)]


@pytest.mark.parametrize(
    "text, printed",
    [
        ("(x+y)*z", "(x + y)*z"),
        ("-x**2", "-x**2"),
        ("(-x)**2", "(-x)**2"),
        ("2**-x", "2**(-x)"),
        ("a-(b-c)", "a - (b - c)"),
        ("a/(b*c)", "a/(b*c)"),
        ("(a**b)**c", "(a**b)**c"),
        ("a**b**c", "a**b**c"),
        ("1/(1+exp(-(w*x)))", "1/(1 + exp(-(w*x)))"),
        ("max(x,y,2.5)", "max(x, y, 2.5)"),
    ],
)
def test_printer_adds_only_the_parentheses_precedence_needs(text, printed):
    assert to_text(parse(text)) == printed
    assert parse(printed).structure() == parse(text).structure()
