"""Model specs: item forms, list vs graph form, user layers, round trips, build_model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from bpcli.errors import SpecError
from bpcli.spec import build_graph, build_model, load_spec, load_spec_text

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    "item",
    ["dense: 7", "{dense: {units: 7}}", "{type: dense, units: 7}", "dense: {units: 7, init: he, bias: true}"],
)
def test_every_item_form_means_the_same_layer(item):
    spec = load_spec_text(f"model:\n  - {item}\n")
    node = spec.model[0]
    assert (node.type, node.options) == ("dense", {"units": 7, "init": "he", "bias": True})


def test_a_chain_and_the_same_graph_build_the_same_net():
    chain = load_spec_text("model:\n  - dense: 20\n  - relu\n  - dense: 3\n")
    graph = load_spec_text(
        "model:\n"
        "  dense1: {type: dense, units: 20, in: input}\n"
        "  relu1: {type: relu, in: dense1}\n"
        "  dense2: {type: dense, units: 3, in: relu1}\n"
    )
    assert [n.name for n in chain.model] == ["dense1", "relu1", "dense2"]
    g1, g2 = build_graph(chain, (2,), np.float64), build_graph(graph, (2,), np.float64)
    p1, p2 = g1.params(), g2.params()
    assert p1.keys() == p2.keys()
    for key in p1:
        np.testing.assert_array_equal(p1[key], p2[key])
    X = np.random.default_rng(1).standard_normal((5, 2))
    np.testing.assert_array_equal(g1.forward(X, training=False), g2.forward(X, training=False))


def test_graph_nodes_without_in_read_the_node_above():
    spec = load_spec_text("model:\n  a: {dense: 4}\n  b: relu\n  c: {type: add, in: [a, b]}\n  d: {dense: 2}\n")
    assert {n.name: n.inputs for n in spec.model} == {"a": ["input"], "b": ["a"], "c": ["a", "b"], "d": ["c"]}


def test_fan_out_graph_builds_and_its_output_is_the_unconsumed_node():
    spec = load_spec("residual")
    graph = build_graph(spec, (2,))
    assert graph.output_name == "scores" and graph.output_shape == (3,)
    assert sum(1 for n in spec.model if "fc1" in n.inputs) == 2


def test_list_items_may_be_named_and_names_must_be_unique():
    spec = load_spec_text("model:\n  - {dense: 4, name: hidden}\n  - relu\n  - {dense: 2, name: scores}\n")
    assert [n.name for n in spec.model] == ["hidden", "relu1", "scores"]
    with pytest.raises(SpecError, match="used twice"):
        load_spec_text("model:\n  - {dense: 4, name: a}\n  - {dense: 2, name: a}\n")


def test_user_layer_from_a_file_relative_to_the_spec(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "layers.py").write_text((HERE / "broken_specs" / "user_layers_for_tests.py").read_text())
    spec_file = tmp_path / "net.yaml"
    spec_file.write_text("model:\n  - dense: 4\n  - {type: sub/layers.py:Swish}\n  - dense: 2\n")
    spec = load_spec(spec_file)
    graph = build_graph(spec, (3,), np.float64)
    x = np.linspace(-2, 2, 12).reshape(4, 3)
    h = x @ graph.params()["dense1.W"] + graph.params()["dense1.b"]
    expected = (h / (1 + np.exp(-h))) @ graph.params()["dense2.W"] + graph.params()["dense2.b"]
    np.testing.assert_allclose(graph.forward(x, training=False), expected, rtol=1e-12)
    assert spec.model[1].name == "swish1"


def test_user_layer_from_an_importable_module():
    spec = load_spec_text("model:\n  - {type: bpcli.nn.layers.dense:Dense, units: 3}\n")
    assert spec.model[0].options["units"] == 3


def test_to_dict_round_trips():
    for name in ("spiral", "residual", "moons"):
        spec = load_spec(name)
        again = load_spec_text(yaml.safe_dump(spec.to_dict()), base_dir=spec.base_dir)
        assert again.to_dict() == spec.to_dict()


def test_resolved_sections_are_plain_dicts_for_the_registries():
    from bpcli.nn.optim import OPTIMIZERS

    spec = load_spec("moons")
    options = {k: v for k, v in spec.optimizer.items() if k != "type"}
    optimizer = OPTIMIZERS.get(spec.optimizer["type"])({"w": np.zeros(3)}, **options)
    assert optimizer is not None
    assert spec.data["type"] == "moons" and spec.data["val_fraction"] == 0.2


def test_build_model_initial_loss_is_log_classes_plus_the_l2_term():
    spec = load_spec("spiral")  # small init (0.01 randn): scores near 0, softmax loss near log(3)
    model = build_model(spec, (2,), 3, np.float64)
    X = np.random.default_rng(0).standard_normal((50, 2))
    y = np.arange(50) % 3
    parts = model.loss(X, y, training=False)
    assert parts.data == pytest.approx(math.log(3), abs=1e-3)
    params = model.graph.params()
    reg = 0.5 * 1e-3 * (np.sum(params["dense1.W"] ** 2) + np.sum(params["dense2.W"] ** 2))
    assert parts.reg == pytest.approx(reg, rel=1e-12)


def test_shape_errors_from_the_graph_point_at_the_layer():
    text = "model:\n  - dense: 4\n  - maxpool2d\n"
    spec = load_spec_text(text, file="net.yaml")
    with pytest.raises(SpecError) as info:
        build_graph(spec, (3,))
    problem = info.value.problems[0]
    assert (problem.file, problem.line) == ("net.yaml", 3)
    assert "maxpool2d1" in problem.message
