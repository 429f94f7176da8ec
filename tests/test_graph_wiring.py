"""One wiring check (bpcli.nn.topology) serves specs and LayerGraph: its problems carry the node
and option as fields, and a spec places them (and build's shape errors) by those fields."""

from __future__ import annotations

import textwrap

import pytest

from bpcli.errors import SpecError
from bpcli.nn.graph import LayerGraph, Node
from bpcli.nn.layer import LAYERS
from bpcli.nn.topology import INPUT, Wire, topological_order, wiring_errors
from bpcli.spec import build_graph, load_spec, load_spec_text


def wire(name, *inputs, n_inputs=1, type_name="relu"):
    return Wire(name, tuple(inputs), n_inputs, type_name)


def test_the_order_is_kahns_stable_order():
    wires = [wire("c", "a", "b", n_inputs=None), wire("a", INPUT), wire("b", INPUT), wire("d", "c")]
    assert topological_order(wires) == (["a", "b", "c", "d"], [])
    assert wiring_errors(wires) == (["a", "b", "c", "d"], [])


def test_a_dangling_input_is_a_field_of_the_node_that_reads_it():
    order, [err] = wiring_errors([wire("a", INPUT), wire("b", "hiden")])
    assert order == []
    assert (err.node, err.option) == ("b", "in")
    assert err.problem == "unknown input 'hiden'; nodes: input, a, b"
    assert err.message == "layer 'b' reads 'hiden', which is not a layer"


def test_a_cycle_starts_at_the_node_written_first_and_belongs_to_it():
    # d reads the cycle a -> b -> c -> a from outside; the walk enters the cycle at b
    wires = [wire("d", "b"), wire("a", "c"), wire("b", "a"), wire("c", "b")]
    _, [err] = wiring_errors(wires)
    assert err.problem == "the model has a cycle: a -> b -> c -> a"
    assert (err.node, err.option) == ("a", "in")


def test_input_counts_and_several_outputs():
    _, [few] = wiring_errors([wire("s", INPUT, n_inputs=None, type_name="add")])
    assert (few.node, few.option) == ("s", "in")
    assert few.message == "layer 's' (add) takes at least 2 inputs, got 1"
    _, [two] = wiring_errors([wire("l", INPUT), wire("r", INPUT)])
    assert (two.node, two.option) == ("l", None)
    assert two.problem == "the graph has several outputs (l, r); exactly one node may be unconsumed"


def test_spec_and_layer_graph_report_one_cycle_alike():
    text = "model:\n  a: {type: relu, in: c}\n  b: {type: relu, in: a}\n  c: {type: relu, in: b}\n  d: {type: relu, in: b}\n"
    with pytest.raises(SpecError) as spec_err:
        load_spec_text(text)
    nodes = [Node(n, LAYERS.get("relu")(), [i]) for n, i in (("a", "c"), ("b", "a"), ("c", "b"), ("d", "b"))]
    with pytest.raises(SpecError) as graph_err:
        LayerGraph(nodes, (2,))
    assert spec_err.value.problems[0].path == "model.a.in"
    assert spec_err.value.problems[0].line == 2
    assert spec_err.value.problems[0].message == graph_err.value.problems[0].message == (
        "the model has a cycle: a -> b -> c -> a")


def test_a_shape_error_is_placed_at_the_node_it_names_as_a_field():
    spec = load_spec_text("model:\n  - dense: 4\n  - conv2d\n")
    with pytest.raises(SpecError) as info:
        build_graph(spec, (3,))
    problem = info.value.problems[0]
    assert (problem.path, problem.line) == ("model.1", 3)
    assert problem.message.startswith("layer 'conv2d1' (conv2d) cannot take")


USER_LAYER = textwrap.dedent('''
    from bpcli.errors import OptionError
    from bpcli.nn.layer import Layer


    class Picky(Layer):
        def __init__(self, *, slope: float = 1.0, how: str = "option"):
            super().__init__()
            if slope < 0 and how == "option":
                raise OptionError("slope", f"slope must be >= 0, got {slope}")
            if slope < 0:
                raise ValueError(f"slope must be >= 0, got {slope}")

        def build(self, input_shape, rng, dtype):
            return input_shape

        def forward(self, x):
            return x

        def backward(self, dout):
            return dout
''')


@pytest.mark.parametrize("how,path,line", [("option", "model.0.slope", 4), ("value", "model.0.type", 2)])
def test_a_user_layer_option_error_lands_at_its_option_and_a_plain_value_error_at_the_layer(tmp_path, how, path, line):
    (tmp_path / "picky.py").write_text(USER_LAYER)
    spec = tmp_path / "net.yaml"
    spec.write_text(f"model:\n  - type: picky.py:Picky\n    how: {how}\n    slope: -1\n")
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    problem = info.value.problems[0]
    assert problem.message == "invalid options for layer 'picky.py:Picky': slope must be >= 0, got -1.0"
    assert (problem.path, problem.line) == (path, line)
