"""`bpcli trace --export circuit.svg`: the lecture's circuit, checked as a person reads it.

Expected numbers are the lecture's worked examples (CS231n backprop notes), not this code's output.
"""

from __future__ import annotations

import itertools
import re

import pytest

from bpcli.expr.report import trace_expression
from bpcli.render.circuit import layout_circuit
from bpcli.render.circuit_svg import render_svg
from circuit_checks import (
    gates,
    overlaps,
    parse,
    segment_hits_box,
    segments,
    segments_cross,
    text_box,
    texts,
    wires,
)

NEURON = ("1/(1+exp(-(w0*x0+w1*x1+w2)))", dict(w0=2, x0=-1, w1=-3, x1=-2, w2=-3))
EXAMPLES = [
    ("(x+y)*z", dict(x=-2, y=5, z=-4), False),
    (*NEURON, False),
    ("x*x*y", dict(x=3, y=2), False),
    ("3*(a+b*c)", dict(a=5, b=4, c=2), False),
    ("sigmoid(w*x+b)", dict(w=0.5, x=-1.5, b=2), True),
    ("tanh(x)*y + max(x, y) - x/2", dict(x=0.3, y=-0.7), True),
    ("(a*b + c*d)*(a - d) + exp(b)*log(c)", dict(a=1, b=2, c=3, d=4), False),
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))*w0*x0", NEURON[1], False),
    ("x", dict(x=2), False),
    ("3", {}, False),
    ("W2@max(0, W1@x)", {"W1": "[[1,-1],[2,1]]", "x": "[1,2]", "W2": "[[1,1]]"}, False),
    ("sum(W@x) + sum((W@x)*(W@x))", {"W": "randn(5,4)", "x": "randn(4)"}, False),
]


def svg_of(expression: str, values: dict, expand: bool = False) -> str:
    pairs = [(k, v if isinstance(v, str) else str(v)) for k, v in values.items()]
    return render_svg(layout_circuit(trace_expression(expression, pairs, expand=expand)))


@pytest.fixture(params=EXAMPLES, ids=lambda e: e[0])
def example_svg(request):
    expression, values, expand = request.param
    return parse(svg_of(expression, values, expand))


def test_svg_parses_is_sixteen_by_nine_and_fetches_nothing(example_svg):
    _, _, width, height = map(float, example_svg.get("viewBox").split())
    assert abs(width / height - 16 / 9) < 1e-3
    assert "monospace" in example_svg.get("font-family")
    text = svg_of(*NEURON)
    assert "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "url(" not in text and "<image" not in text and "@import" not in text


def test_no_two_labels_overlap_and_every_label_is_inside_the_canvas(example_svg):
    _, _, width, height = map(float, example_svg.get("viewBox").split())
    boxes = [(t.text, text_box(t)) for t in texts(example_svg)]
    for text, (left, top, right, bottom) in boxes:
        assert 0 <= left and right <= width and 0 <= top and bottom <= height, text
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not overlaps(box_a, box_b), (a, b)


def test_no_wire_strikes_through_a_label(example_svg):
    for text in texts(example_svg):
        if text.get("class") in ("op", "title", "legend-value", "legend-grad"):
            continue
        box = text_box(text)
        for wire, a, b in segments(example_svg):
            assert not segment_hits_box(a, b, box), (text.text, wire)


def test_every_wire_carries_its_value_and_gradient(example_svg):
    found = wires(example_svg)
    assert found
    for wire_id, wire in found.items():
        assert wire["value"], wire_id
        constant = wire["source"].lstrip("-").replace(".", "").isdigit()
        assert (wire["grad"] is None) == constant, wire_id


def by_source(root) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for wire in wires(root).values():
        grouped.setdefault(wire["source"], []).append(wire)
    return grouped


def output_wire(root) -> dict:
    return next(w for w in wires(root).values() if w["kind"] == "output")


def test_x_plus_y_times_z_has_the_lecture_numbers_on_the_right_wires():
    root = parse(svg_of("(x+y)*z", dict(x=-2, y=5, z=-4)))
    wires_of = by_source(root)
    assert [(w["value"], w["grad"]) for w in wires_of["x"]] == [("-2", "-4")]
    assert [(w["value"], w["grad"]) for w in wires_of["y"]] == [("5", "-4")]
    assert [(w["value"], w["grad"]) for w in wires_of["z"]] == [("-4", "3")]
    plus = [w for name, ws in wires_of.items() if name.startswith("n") for w in ws if w["kind"] == "edge"]
    assert [(w["value"], w["grad"]) for w in plus] == [("3", "-4")]  # q = x+y = 3, df/dq = z
    assert (output_wire(root)["value"], output_wire(root)["grad"]) == ("-12", "1")
    assert sorted(gates(root).values()) == ["*", "+"]


def test_the_sigmoid_neuron_has_the_lecture_gates_and_numbers():
    root = parse(svg_of(*NEURON))
    assert sorted(gates(root).values()) == sorted(["*", "*", "+", "+", "*-1", "exp", "+1", "1/x"])
    wires_of = by_source(root)
    expected = {"w0": ("2", "-0.20"), "x0": ("-1", "0.39"), "w1": ("-3", "-0.39"),
                "x1": ("-2", "-0.59"), "w2": ("-3", "0.20")}
    for name, pair in expected.items():
        assert [(w["value"], w["grad"]) for w in wires_of[name]] == [pair], name
    assert (output_wire(root)["value"], output_wire(root)["grad"]) == ("0.73", "1")
    # the lecture's intermediate wires: 1.37 into 1/x (gradient -0.53), 0.37 out of exp (-0.53)
    inner = [(w["value"], w["grad"]) for ws in wires_of.values() for w in ws]
    assert ("1.37", "-0.53") in inner and ("0.37", "-0.53") in inner and ("-1", "-0.20") in inner
    # the constant 1 is folded into its gate: no wire and no label of its own
    assert "1" not in wires_of and "1" not in [t.text for t in texts(root) if t.get("class") == "name"]


def test_the_sigmoid_neuron_is_drawn_without_crossing_wires():
    root = parse(svg_of(*NEURON))
    drawn = list(segments(root))
    for (w1, a, b), (w2, c, d) in itertools.combinations(drawn, 2):
        if w1 != w2:
            assert not segments_cross(a, b, c, d), (w1, w2)


def test_a_fork_shows_plus_equals_and_the_summed_gradient():
    root = parse(svg_of("x*x*y", dict(x=3, y=2)))
    wires_of = by_source(root)
    x_wires = wires_of["x"]
    trunk = [w for w in x_wires if w["kind"] == "trunk"]
    branches = [w for w in x_wires if w["kind"] == "edge"]
    assert [(w["value"], w["grad"]) for w in trunk] == [("3", "12")]  # d(x²y)/dx = 2xy = 12
    assert sorted((w["value"], w["grad"]) for w in branches) == [("3", "6"), ("3", "6")]  # x·y each
    assert [(w["value"], w["grad"]) for w in wires_of["y"]] == [("2", "9")]  # x² = 9
    assert "+=" in [t.text for t in texts(root) if t.get("class") == "fork"]
    assert (output_wire(root)["value"], output_wire(root)["grad"]) == ("18", "1")


def test_constants_fold_into_their_gate_as_the_lecture_draws_them():
    root = parse(svg_of("3*(a+b*c)", dict(a=5, b=4, c=2)))
    assert sorted(gates(root).values()) == ["*", "*3", "+"]
    wires_of = by_source(root)
    assert [(w["value"], w["grad"]) for w in wires_of["a"]] == [("5", "3")]
    assert [(w["value"], w["grad"]) for w in wires_of["b"]] == [("4", "6")]
    assert [(w["value"], w["grad"]) for w in wires_of["c"]] == [("2", "12")]
    assert output_wire(root)["value"] == "39"


def test_a_constant_that_does_not_fold_is_an_input_wire_without_gradient():
    root = parse(svg_of("x/2", dict(x=3)))
    wires_of = by_source(root)
    assert [(w["value"], w["grad"]) for w in wires_of["2"]] == [("2", None)]
    assert [(w["value"], w["grad"]) for w in wires_of["x"]] == [("3", "0.50")]


def test_expand_draws_the_primitive_gates():
    root = parse(svg_of("sigmoid(w*x+b)", dict(w=0.5, x=-1.5, b=2), expand=True))
    assert {"*-1", "exp", "+1", "1/x"} <= set(gates(root).values())
    folded = parse(svg_of("sigmoid(w*x+b)", dict(w=0.5, x=-1.5, b=2)))
    assert "sigmoid" in gates(folded).values()


def test_inputs_are_left_of_their_gates_and_the_output_is_rightmost():
    root = parse(svg_of(*NEURON))
    for wire_id, a, b in segments(root):
        assert b[0] >= a[0] - 1e-6, wire_id  # every wire runs left to right


TWO_LAYER = ("W2@max(0, W1@x)", {"W1": "[[1,-1],[2,1]]", "x": "[1,2]", "W2": "[[1,1]]"})


def test_a_tensor_circuit_has_the_two_layer_nets_numbers_on_its_wires():
    # z = W1@x = [-1, 4], h = max(0, z) = [0, 4], f = W2@h = [4]; backward with dout = [1]:
    # dW2 = dout ⊗ h = [[0 4]], dh = W2ᵀ dout = [1 1], dz = dh ⊙ [z > 0] = [0 1],
    # dW1 = dz ⊗ x = [[0 0] [1 2]], dx = W1ᵀ dz = [2 1]
    root = parse(svg_of(*TWO_LAYER))
    wires_of = by_source(root)
    assert [(w["value"], w["grad"]) for w in wires_of["W1"]] == [("[[1 -1] [2 1]]", "[[0 0] [1 2]]")]
    assert [(w["value"], w["grad"]) for w in wires_of["x"]] == [("[1 2]", "[2 1]")]
    assert [(w["value"], w["grad"]) for w in wires_of["W2"]] == [("[[1 1]]", "[[0 4]]")]
    inner = [(w["value"], w["grad"]) for ws in wires_of.values() for w in ws]
    assert ("[-1 4]", "[0 1]") in inner and ("[0 4]", "[1 1]") in inner
    assert (output_wire(root)["value"], output_wire(root)["grad"]) == ("[4]", "[1]")
    assert sorted(gates(root).values()) == ["@", "@", "max"]


def test_a_big_tensor_wire_shows_its_shape():
    root = parse(svg_of("sum(W@x)", {"W": "randn(5,3)", "x": "randn(3)"}))
    wires_of = by_source(root)
    assert [(w["value"], w["grad"]) for w in wires_of["W"]] == [("(5,3)", "(5,3)")]
    (x,) = wires_of["x"]
    assert re.fullmatch(r"\[(-?\d+\.\d\d ?){3}\]", x["value"])  # 3 numbers fit: shown
    boxes = [(t.text, text_box(t)) for t in texts(root)]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not overlaps(box_a, box_b), (a, b)
