"""A user layer's own bug is the user's error (exit 2, naming file:Class.method, node and line);
a layer whose forward breaks its build() promise is a ShapeError at build time."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.errors import BpcliError, SpecError
from bpcli.spec import build_model, load_spec
from bpcli.spec.user_layers import UserLayerFailed

runner = CliRunner()

LAYERS_PY = textwrap.dedent(
    '''
    import numpy as np
    from bpcli.nn.layer import Layer


    class Boom(Layer):
        """Identity that raises in the method named by `where`."""

        def __init__(self, *, where: str = "forward"):
            super().__init__()
            self.where = where

        def build(self, input_shape, rng, dtype):
            if self.where == "build":
                raise KeyError("no such key")
            return input_shape

        def forward(self, x):
            if self.where == "forward":
                raise RuntimeError("boom")
            return x

        def backward(self, dout):
            if self.where == "backward":
                return dout + {}["missing"]
            return dout


    class Narrow(Layer):
        """Declares (4,) but returns (N, 1)."""

        def build(self, input_shape, rng, dtype):
            return (4,)

        def forward(self, x):
            return x[:, :1]

        def backward(self, dout):
            return np.repeat(dout, 2, axis=1)
    '''
)
# the line of each `raise` in LAYERS_PY (1-based, as the traceback counts)
LINES = {w: 1 + LAYERS_PY.splitlines().index(line) for w, line in [
    ("build", '            raise KeyError("no such key")'),
    ("forward", '            raise RuntimeError("boom")'),
    ("backward", '            return dout + {}["missing"]'),
]}
ERRORS = {"build": "KeyError: 'no such key'", "forward": "RuntimeError: boom", "backward": "KeyError: 'missing'"}


def _spec_file(tmp_path: Path, layer: str) -> Path:
    (tmp_path / "my_layers.py").write_text(LAYERS_PY)
    spec = tmp_path / "net.yaml"
    spec.write_text(
        "data: {type: spiral, points_per_class: 20}\n"
        "model:\n"
        "  - dense: 2\n"
        f"  - {layer}\n"
        "  - dense: 3\n"
        "train: {epochs: 1}\n"
    )
    return spec


def _boom_spec(tmp_path: Path, where: str) -> Path:
    return _spec_file(tmp_path, f"{{type: my_layers.py:Boom, where: {where}}}")


def _train_once(spec_path: Path) -> None:
    spec = load_spec(spec_path)
    model = build_model(spec, (2,), 3)
    X = np.random.default_rng(0).standard_normal((5, 2))
    model.loss_and_grads(X, np.array([0, 1, 2, 0, 1]))


@pytest.mark.parametrize("where", ["build", "forward", "backward"])
def test_a_user_layer_that_raises_names_its_method_node_exception_and_line(tmp_path, where):
    spec_path = _boom_spec(tmp_path, where)
    with pytest.raises(UserLayerFailed) as info:
        _train_once(spec_path)
    message = info.value.message
    assert f"my_layers.py:Boom.{where}" in message
    assert "'boom1'" in message
    assert ERRORS[where] in message
    assert f"my_layers.py:{LINES[where]}" in message
    assert info.value.exit_code == 2
    assert isinstance(info.value, BpcliError)


@pytest.mark.parametrize(
    "command,where",
    [(c, w) for c in (["train"], ["gradcheck"]) for w in ("build", "forward", "backward")]
    + [(["show"], "build"), (["show"], "forward")],  # show runs no backward pass
)
def test_cli_reports_a_user_layer_bug_as_a_user_error(tmp_path, command, where):
    spec_path = _boom_spec(tmp_path, where)
    args = command + [str(spec_path)] + (["--out", str(tmp_path / "runs")] if command == ["train"] else [])
    result = runner.invoke(app, args)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 2, output
    assert "internal error" not in output
    assert f"my_layers.py:Boom.{where}" in output
    assert ERRORS[where] in output


def test_a_builtin_layer_that_raises_stays_an_internal_error(monkeypatch):
    def broken(self, x):
        raise RuntimeError("our bug")

    spec = load_spec("spiral")
    model = build_model(spec, (2,), 3)
    monkeypatch.setattr(type(model.graph.nodes[0].layer), "forward", broken)  # the dense layer (its fast twin)
    with pytest.raises(RuntimeError, match="our bug") as info:
        model.scores(np.zeros((3, 2)))
    assert not isinstance(info.value, BpcliError)


def test_user_layer_options_still_come_from_its_signature(tmp_path):
    spec = load_spec(_boom_spec(tmp_path, "nowhere"))
    node = spec.model[1]
    assert node.options == {"where": "nowhere"}
    assert node.name == "boom1" and node.layer_class.__name__ == "Boom"


def test_a_layer_returning_another_shape_than_declared_fails_at_build(tmp_path):
    spec = load_spec(_spec_file(tmp_path, "my_layers.py:Narrow"))
    with pytest.raises(SpecError) as info:
        build_model(spec, (2,), 3)
    problem = info.value.problems[0]
    assert problem.line == 4  # the Narrow item in the spec
    assert "'narrow1'" in problem.message and "(4,)" in problem.message and "(2, 1)" in problem.message


def test_show_rejects_a_layer_that_breaks_its_declared_shape(tmp_path):
    result = runner.invoke(app, ["show", str(_spec_file(tmp_path, "my_layers.py:Narrow"))])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 2, output
    assert "narrow1" in output and "declared" in output and "matmul" not in output
