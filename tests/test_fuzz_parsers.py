"""Fuzzing the two parsers of user text: the expression parser (`bpcli trace`, expr layers) and
the spec loader. Whatever the text, the answer is a result or a bpcli error (a message with
its place), never another exception (which the CLI would report as an internal error).
Derandomized under CI (tests/conftest.py); more examples behind the slow mark."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpcli.errors import BpcliError

EXPR_ALPHABET = "xyab0123456789.e+-*/^()[],= @Tmaxinlogexpsqrtrelutanhsigmoidabs\t!#$%&\\|~;:'\"_`"
FAST = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=6000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

expression_text = st.one_of(
    st.text(alphabet=EXPR_ALPHABET, max_size=60),
    st.text(max_size=30),  # any unicode at all
    st.lists(st.sampled_from(["x", "y", "2", "1e308", "0", ".5", "+", "-", "*", "/", "^", "**", "(", ")",
                              "max(", "min(", "log(", "exp(", "sqrt(", "relu(", "abs(", ",", "e", "pi"]),
             max_size=25).map("".join),
)


def check_expression(text: str) -> None:
    from bpcli.expr import parse

    try:
        graph = parse(text)
    except BpcliError:
        return
    values = {name: 0.5 + i for i, name in enumerate(graph.variables)}
    try:
        value, grads = graph.gradients(values)
    except BpcliError:
        return
    assert isinstance(value, float) or math.isnan(value) or value is not None
    assert set(grads) == set(graph.variables)


@FAST
@given(expression_text)
def test_the_expression_parser_answers_any_text_with_a_graph_or_an_expression_error(text):
    check_expression(text)


@pytest.mark.slow
@SLOW
@given(expression_text)
def test_the_expression_parser_answers_any_text_more_examples(text):
    check_expression(text)


# ----------------------------------------------------------------------------- specs
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["relu", "dense", "spiral", "sgd", "adam", "l2", "he", "x", "input", "float64", "auto"]),
)
keys = st.sampled_from(["seed", "data", "model", "loss", "regularization", "optimizer", "schedule", "train",
                        "type", "units", "epochs", "lr", "batch_size", "val_fraction", "test_fraction", "in",
                        "points_per_class", "classes", "strength", "p", "early_stopping", "patience", "dense",
                        "relu", "dropout", "conv2d", "filters", "kernel", "expr", "monitor", "momentum"])
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=4)), max_leaves=12)
spec_dicts = st.dictionaries(keys, values, max_size=6)
VALID = "seed: 1\ndata: {type: spiral, points_per_class: 5}\nmodel: [{dense: 4}, relu, {dense: 3}]\ntrain: {epochs: 2}\n"
mutated = st.tuples(st.integers(0, len(VALID)), st.text(alphabet="{}[]:,-&*!|>'\"#%@`? \n\t.0123456789aeinfx", max_size=8)).map(
    lambda cut: VALID[: cut[0]] + cut[1] + VALID[cut[0]:])
spec_text = st.one_of(spec_dicts.map(lambda d: yaml.safe_dump(d, allow_unicode=True)), mutated, st.text(max_size=80))


def check_spec(text: str) -> None:
    from bpcli.spec import load_spec_text

    try:
        load_spec_text(text, file="fuzz.yaml")
    except BpcliError as err:
        assert err.render()


@FAST
@given(spec_text)
def test_the_spec_loader_answers_any_text_with_a_spec_or_spec_errors(text):
    check_spec(text)


@pytest.mark.slow
@SLOW
@given(spec_text)
def test_the_spec_loader_answers_any_text_more_examples(text):
    check_spec(text)
