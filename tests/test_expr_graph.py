"""The lecture's worked examples, recorded backward steps, forks, expansion, kinks."""

from __future__ import annotations

import math

import pytest

from bpcli.errors import ExprError
from bpcli.expr import parse

NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
NEURON_VALUES = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}


def test_add_then_multiply_example():
    value, grads = parse("(x+y)*z").gradients({"x": -2, "y": 5, "z": -4})
    assert value == -12 and grads == {"x": -4, "y": -4, "z": 3}


def test_sigmoid_neuron_example_gradients_and_intermediate_values():
    graph = parse(NEURON)
    value, grads = graph.gradients(NEURON_VALUES)
    assert round(value, 2) == 0.73
    assert {k: round(v, 2) for k, v in grads.items()} == {
        "w0": -0.20,
        "x0": 0.39,
        "w1": -0.39,
        "x1": -0.59,
        "w2": 0.20,
    }
    # the lecture's gate values: w0*x0=-2, w1*x1=6, sum 4, +w2 = 1, *-1 = -1, exp 0.37, +1 1.37, 1/x 0.73
    gate_values = [
        round(v, 2) for n, v in zip(graph.nodes, graph.forward(NEURON_VALUES)) if n.inputs
    ]
    assert gate_values == [-2, 6, 4, 1, -1, 0.37, 1.37, 0.73]
    # and its backward gradients at those gates: 1, -0.53, -0.53, -0.20, 0.20 ...
    trace = graph.backward(NEURON_VALUES)
    upstreams = [round(step.upstream, 2) for step in trace.steps]
    assert upstreams == [1.0, -0.53, -0.53, -0.2, 0.2, 0.2, 0.2, 0.2]
    reciprocal = trace.steps[0]
    assert graph.nodes[reciprocal.node].op == "recip"
    assert round(reciprocal.inputs[0].local, 2) == -0.53  # -1/x² at x = 1.37


def test_sigmoid_neuron_fused_and_expanded_give_the_lecture_gradients():
    exact_sigma = 1 / (1 + math.exp(-1.0))
    slope = exact_sigma * (1 - exact_sigma)  # σ(1-σ) at the neuron's input 1
    expected = {"w0": -1 * slope, "x0": 2 * slope, "w1": -2 * slope, "x1": -3 * slope, "w2": slope}
    for graph in (parse("sigmoid(w0*x0+w1*x1+w2)"), parse("sigmoid(w0*x0+w1*x1+w2)").expanded()):
        value, grads = graph.gradients(NEURON_VALUES)
        assert value == pytest.approx(exact_sigma, rel=1e-14)
        for name in expected:
            assert grads[name] == pytest.approx(expected[name], rel=1e-12)


def test_expanded_sigmoid_has_the_lecture_gates():
    graph = parse("sigmoid(x)").expanded()
    gates = [graph.gate_label(n.id) for n in graph.nodes if n.inputs]
    assert gates == ["*-1", "exp", "+1", "1/x"]


def test_three_times_a_plus_b_times_c():
    value, grads = parse("3*(a+b*c)").gradients({"a": 5, "b": 4, "c": 2})
    # f = 3(a + bc): df/da = 3, df/db = 3c, df/dc = 3b
    assert value == 39 and grads == {"a": 3, "b": 6, "c": 12}


def test_fork_sums_both_paths_and_records_the_plus_equals():
    graph = parse("x*x*y")
    trace = graph.backward({"x": 3, "y": 2})
    assert trace.gradients == {"x": 12, "y": 9}  # d(x²y)/dx = 2xy, d/dy = x²
    x = graph.variable_ids["x"]
    into_x = [s for step in trace.steps for s in step.inputs if s.node == x]
    assert [s.accumulated for s in into_x] == [False, True]
    assert into_x[0].total == 6 and into_x[1].total == 12  # = 6, then += 6 -> 12


def test_backward_steps_come_in_reverse_topological_order_and_show_upstream_times_local():
    graph = parse("(x+y)*z")
    trace = graph.backward({"x": -2, "y": 5, "z": -4})
    assert [graph.nodes[s.node].op for s in trace.steps] == ["mul", "add"]
    for step in trace.steps:
        for s in step.inputs:
            assert s.sent == step.upstream * s.local


def test_backward_twice_gives_the_closed_form_gradients_both_times():
    graph = parse("x*x + sin(x)*y")
    x, y = 0.4, 2.0
    # f = x² + y·sin x: df/dx = 2x + y·cos x, df/dy = sin x
    expected = {"x": 2 * x + y * math.cos(x), "y": math.sin(x)}
    for _ in range(2):  # nothing the first backward leaves behind may change the second
        value, grads = graph.gradients({"x": x, "y": y})
        assert value == pytest.approx(x * x + y * math.sin(x), rel=1e-15)
        assert grads == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    "text", ["tanh(x*y) + sigmoid(x - y)", "sigmoid(sigmoid(x))*tanh(y)**2", "tanh(x)*tanh(x)"]
)
def test_expand_gives_the_same_gradients_as_fused_gates(text):
    graph = parse(text)
    expanded = graph.expanded()
    assert len(expanded) > len(graph)
    assert not any(n.op in ("sigmoid", "tanh") for n in expanded.nodes)
    for x, y in [(0.3, -1.2), (-2.0, 0.5), (1.5, 1.5)]:
        value, grads = graph.gradients({"x": x, "y": y})
        value_e, grads_e = expanded.gradients({"x": x, "y": y})
        assert value_e == pytest.approx(value, rel=1e-12)
        for name in grads:
            assert grads_e[name] == pytest.approx(grads[name], rel=1e-9, abs=1e-12)


def test_kink_state_names_the_side_of_every_kinky_gate():
    graph = parse("relu(x) + abs(y) + max(x, y, 0) * min(x, y)")
    assert graph.kink_state({"x": 1, "y": -2}) == (1, -1, 0, 1)
    assert graph.kink_state({"x": -1, "y": 2}) == (0, 1, 1, 0)


def test_max_routes_all_gradient_to_the_winner():
    trace = parse("max(x, y)").backward({"x": 1, "y": 5})
    assert trace.gradients == {"x": 0, "y": 1}


def test_numerical_trouble_gives_nan_or_inf_with_a_warning_naming_the_gate():
    for text, value in [
        ("log(x)", -1),
        ("1/x", 0),
        ("sqrt(x)", -4),
        ("exp(1000*x)", 1),
        ("x/(x-x)", 1),
    ]:
        trace = parse(text).backward({"x": value})
        assert not math.isfinite(trace.output), text
        assert trace.warnings, text
        gate = parse(text).nodes[-1].op
        assert any(f"({gate})" in w for w in trace.warnings), (text, trace.warnings)


def test_missing_value_is_an_error():
    with pytest.raises(ExprError, match="'y'"):
        parse("x*y").evaluate({"x": 1})


def test_constants_have_no_gradient_and_pow_with_a_negative_base_is_fine():
    trace = parse("x**2").backward({"x": -3})
    assert trace.gradients == {"x": -6} and not trace.warnings


def test_a_non_finite_constant_still_has_a_label_and_text():
    from bpcli.expr.graph import GraphBuilder
    from bpcli.expr.printer import constant_text

    builder = GraphBuilder()
    x = builder.variable("x")
    for value in (math.inf, -math.inf, math.nan):
        gate = builder.gate("mul", (x, builder.constant(value)))
    graph = builder.build(gate, "x*nan")
    labels = [graph.label(n.id) for n in graph.nodes if n.op == "const"]
    assert labels == ["inf", "-inf", "nan"] and graph.gate_label(gate) == "*nan"
    assert constant_text(math.inf) == "1e999" and constant_text(math.nan) == "nan"


def test_mul_by_a_constant_is_labelled_with_it_and_scales_or_flips():
    graph = parse("3*x + x*y")
    gates = {graph.gate_label(n.id): graph.role(n.id) for n in graph.nodes if n.op == "mul"}
    assert gates["*3"].startswith("scales:") and gates["*"].startswith("switches:")
    expanded = parse("sigmoid(x)").expanded()  # the lecture's x*-1 gate: mul by the constant -1
    flip = next(n.id for n in expanded.nodes if n.op == "mul")
    negation = parse("-x")  # the neg gate, drawn the same way
    assert expanded.gate_label(flip) == "*-1" == negation.gate_label(negation.output)
    assert expanded.role(flip) == negation.role(negation.output) and expanded.role(flip).startswith(
        "flips:"
    )


def test_a_new_op_needs_only_its_table_entry(monkeypatch):
    """Label, role, routing and printing come from the Op's attributes, not from its name."""
    from bpcli.expr.graph import GraphBuilder
    from bpcli.expr.ops import OPS, Op
    from bpcli.expr.printer import to_text
    from bpcli.expr.report import trace_expression
    from bpcli.render.trace_rich import backward_table, roles_legend

    first = Op(
        "first", arity=0, forward=lambda *a: a[0], partials=(lambda i, a, out: 1.0 if i == 0 else 0.0,),
        formula=("[first]",), role="picks: the whole gradient goes to the first input",
        gate_label="⊳", routes=True,
    )
    monkeypatch.setitem(OPS, "first", first)
    builder = GraphBuilder()
    x, y = builder.variable("x"), builder.variable("y")
    graph = builder.build(builder.gate("first", (x, y)), "first(x, y)")
    assert graph.gate_label(2) == "⊳" and graph.role(2) == first.role
    assert to_text(graph) == "first(x, y)"
    assert graph.gradients({"x": 2, "y": 5}) == (2, {"x": 1, "y": 0})

    report = trace_expression("x*y", [("x", "2"), ("y", "5")])
    report.graph, report.trace = graph, graph.backward({"x": 2, "y": 5})
    from rich.console import Console

    console = Console(width=100, record=True, file=__import__("io").StringIO())
    console.print(backward_table(report), roles_legend(report))
    out = console.export_text()
    assert "n2 ⊳" in out and "picks → x" in out and "⊳ picks:" in out
