"""The one NAME=VALUE parser (bpcli/assignments.py): tokens, value grammars, calls, and the
places that read them (spec overrides, `gradcheck --layer` options, trace values, `gradcheck --fn`
values, sweep search spaces) agreeing."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bpcli.assignments import NUMBERS, SPEC_VALUES, Call, ValueForm, split_assignment, split_assignments, split_call
from bpcli.cli import app
from bpcli.errors import SpecError, UsageError
from bpcli.expr.values import TensorContext
from bpcli.gradcheck.fn_values import FN_VALUES
from bpcli.spec.overrides import parse_override
from bpcli.sweep.space import parse_sweep_arguments


def test_tokens_split_at_the_first_equals_sign_and_are_stripped():
    assert split_assignments(["x=1", " lr = 1e-3", "f=x==y"]) == [("x", "1"), ("lr", "1e-3"), ("f", "x==y")]
    pair = split_assignment("model.0.units=64")
    assert pair.keys == ["model", "0", "units"] and pair.text == "64"
    assert split_assignment("=3") is None and split_assignment("x") is None


@pytest.mark.parametrize("tokens, message", [
    (["x"], "expected NAME=VALUE, got 'x'"),
    (["x", "=", "3"], "write it without spaces, x=3"),
    (["x=", "3"], "write it without spaces, x=3"),
])
def test_bad_tokens_are_usage_errors_that_say_what_to_type(tokens, message):
    with pytest.raises(UsageError, match=message):
        split_assignments(tokens)


# every value a spec override and a --layer option can take, and what YAML makes of it
SPEC_CASES = [("5", 5), ("-2", -2), ("1e-3", 1e-3), ("0.5", 0.5), ("true", True), ("false", False),
              ("null", None), ("he", "he"), ("[1, 2]", [1, 2]), ("{a: 1}", {"a": 1}), ("x*sigmoid(x)", "x*sigmoid(x)")]


@pytest.mark.parametrize("text, expected", SPEC_CASES)
def test_spec_overrides_and_layer_options_read_a_value_the_same_way(text, expected):
    keys, value, _ = parse_override(f"model.0.init={text}")
    assert keys == ["model", "0", "init"]
    assert value == expected and type(value) is type(expected)
    assert SPEC_VALUES.parse("init", text) == expected


def test_layer_options_on_the_command_line_are_typed_like_overrides():
    """`--layer dense init=null` reaches dense as None (it used to be the text 'null'), as
    `model.0.init=null` does; 1e-3 is a number in both."""
    runner = CliRunner()
    result = runner.invoke(app, ["gradcheck", "--layer", "dense", "init=null"])
    assert result.exit_code == 2
    assert "got None" in result.output
    result = runner.invoke(app, ["gradcheck", "--layer", "leaky_relu", "alpha=1e-1", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "{'alpha': 0.1}" in result.output


def test_a_value_that_is_not_yaml_is_a_spec_error_at_its_column():
    with pytest.raises(SpecError, match="override lr=\\[1,"):
        parse_override("lr=[1,")


@pytest.mark.parametrize("text, message", [("abc", "is not a number: 'abc'"), ("inf", "must be a finite number"),
                                           ("nan", "must be a finite number")])
def test_trace_numbers_are_finite(text, message):
    assert NUMBERS.parse("x", "-2.5") == -2.5
    with pytest.raises(UsageError, match=message):
        NUMBERS.parse("x", text)


def test_a_new_value_form_plugs_in_before_the_grammars_own():
    percent = ValueForm("percent", lambda text: text.endswith("%"), lambda name, text, context: float(text[:-1]) / 100)
    grammar = NUMBERS.plus(percent)
    assert grammar.parse("p", "12.5%") == 0.125
    assert grammar.parse("p", "3") == 3.0  # the old forms still apply
    with pytest.raises(UsageError):
        NUMBERS.parse("p", "12.5%")  # the original grammar is unchanged


@pytest.mark.parametrize("text, expected", [
    ("loguniform(1e-4, 1e-1)", ("loguniform", ["1e-4", "1e-1"])),
    (" choice( 'a,b' , c ) ", ("choice", ["'a,b'", "c"])),
    ("randint(10,4,3)", ("randint", ["10", "4", "3"])),
    ("f()", ("f", [""])),
    ("x*sigmoid(x)", None),
    ("[1, 2]", None),
    ("uniform(0,1", None),
])
def test_a_value_written_as_a_call_splits_into_its_function_and_arguments(text, expected):
    assert split_call(text) == (None if expected is None else Call(*expected))


@pytest.mark.parametrize("text, expected", [(t, v) for t, v in SPEC_CASES if not t.startswith("[")])
def test_gradcheck_fn_values_and_sweep_choices_read_a_value_as_spec_overrides_do(text, expected):
    """`--fn ... lr=1e-3` is the number 0.001 (the YAML 1.1 safe loader made it the text '1e-3'),
    as `optimizer.lr=1e-3` is; a sweep's choice(...) reads each value the same way."""
    value = FN_VALUES.parse("lr", text, TensorContext())
    assert value == expected and type(value) is type(expected)
    if not isinstance(expected, (dict, list)) and "(" not in text:
        (param,) = parse_sweep_arguments([f"model.0.init=choice({text}, other)"])[1]
        assert param.choices[0] == expected and type(param.choices[0]) is type(expected)


def test_a_fn_value_that_is_not_yaml_says_so_as_a_usage_error():
    with pytest.raises(UsageError, match=r"^x=\{a: 1: not a shape, an array or YAML \(invalid YAML: "):
        FN_VALUES.parse("x", "{a: 1", TensorContext())
