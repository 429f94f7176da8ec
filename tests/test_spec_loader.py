"""The YAML loader: safe, positions of every key and value, duplicate keys, 1e-3 as a number."""

from __future__ import annotations


import pytest

from bpcli.errors import SpecError
from bpcli.spec.yaml_loader import parse_yaml


@pytest.mark.parametrize(
    "text, expected",
    [("1e-3", 0.001), ("1E-3", 0.001), ("5e2", 500.0), ("-2.5e+1", -25.0), (".5", 0.5), ("1.0", 1.0),
     ("+1e3", 1000.0), ("3", 3), ("-7", -7), ("1e-3x", "1e-3x"), ("1.2.3", "1.2.3"), ("e5", "e5")],
)
def test_numbers_read_like_yaml_1_2(text, expected):
    value, _ = parse_yaml(f"v: {text}")
    assert value["v"] == expected
    assert type(value["v"]) is type(expected)


def test_1e_minus_3_is_a_float_where_plain_safe_load_gives_a_string():
    import yaml

    assert yaml.safe_load("lr: 1e-3")["lr"] == "1e-3"  # the PyYAML default this loader fixes
    value, _ = parse_yaml("lr: 1e-3")
    assert value["lr"] == pytest.approx(1e-3) and isinstance(value["lr"], float)


def test_positions_of_keys_and_values_are_one_based():
    text = "model:\n  - dense: 100\n  - {type: relu}\nseed: 3\n"
    _, pos = parse_yaml(text, "f.yaml")
    assert (pos[("seed",)].line, pos[("seed",)].col) == (4, 7)
    assert (pos[("seed",)].key_line, pos[("seed",)].key_col) == (4, 1)
    assert (pos[("model", 0, "dense")].line, pos[("model", 0, "dense")].col) == (2, 12)
    assert (pos[("model", 1)].line, pos[("model", 1)].col) == (3, 5)
    assert (pos[("model", 1, "type")].line, pos[("model", 1, "type")].col) == (3, 12)


def test_duplicate_keys_are_all_reported_with_both_lines():
    text = "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"
    with pytest.raises(SpecError) as info:
        parse_yaml(text, "f.yaml")
    rendered = [p.render() for p in info.value.problems]
    assert "f.yaml:4:3: b.c: duplicate key 'c' (first defined on line 3)" in rendered
    assert "f.yaml:5:1: a: duplicate key 'a' (first defined on line 1)" in rendered


def test_syntax_error_has_line_and_column():
    with pytest.raises(SpecError) as info:
        parse_yaml("a: [1, 2\nb: 3\n", "f.yaml")
    problem = info.value.problems[0]
    assert (problem.file, problem.line) == ("f.yaml", 2)
    assert problem.message.startswith("invalid YAML")


def test_python_tags_are_rejected_not_executed():
    with pytest.raises(SpecError) as info:
        parse_yaml('a: !!python/object/apply:os.system ["echo hacked"]', "f.yaml")
    assert "invalid YAML" in info.value.problems[0].message


def test_merge_keys_and_anchors_work():
    text = "base: &b {units: 10, bias: false}\nlayer:\n  <<: *b\n  units: 20\n"
    value, _ = parse_yaml(text)
    assert value["layer"] == {"units": 20, "bias": False}


def test_alias_bombs_are_refused_before_expansion():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    # 10^9 leaves if expanded: refused by the node budget, never built (the hostile catalogue
    # runs such cases under a memory limit and a timeout in a subprocess)
    with pytest.raises(SpecError, match="too large"):
        parse_yaml("\n".join(lines))


def test_empty_document_is_none():
    assert parse_yaml("")[0] is None


def test_absurd_nesting_is_a_spec_error_not_a_crash():
    with pytest.raises(SpecError, match="nested too deeply"):
        parse_yaml("a: " + "[" * 5000 + "]" * 5000)
