"""Every example config loads and builds (also after a non-editable install); the JSON Schema
describes them; `bpcli show` and `bpcli schema` through the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.data import load_data
from bpcli.spec import build_model, builtin_names, load_spec
from bpcli.spec.yaml_loader import parse_yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "bpcli" / "configs").glob("*.yaml"))
REQUIRED_EXAMPLES = {"spiral", "spiral-3layer", "xor", "moons", "residual", "cnn", "expr-activation", "user-layer"}
runner = CliRunner()


def test_configs_at_the_root_is_the_packaged_directory():
    assert (ROOT / "configs").resolve() == (ROOT / "bpcli" / "configs").resolve()
    assert REQUIRED_EXAMPLES <= set(builtin_names())


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_config_loads_and_builds_on_its_data(config: Path):
    spec = load_spec(config)
    data = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed)
    model = build_model(spec, data.input_shape, data.n_classes, np.float32)
    scores = model.scores(data.X_train[:4])
    assert scores.shape == (min(4, len(data.X_train)), data.n_classes)
    assert np.all(np.isfinite(scores))


def test_the_default_spiral_is_the_lecture_net():
    spec = load_spec("spiral")  # (its optimizer and train values are tuned for speed elsewhere)
    assert [(n.type, n.options.get("units")) for n in spec.model] == [("dense", 100), ("relu", None), ("dense", 3)]
    assert spec.loss["type"] == "softmax_cross_entropy"
    assert spec.regularization == {"type": "l2", "strength": 1e-3}


# --- bpcli show -------------------------------------------------------------------------


def test_show_prints_the_resolved_spec_with_defaults_and_the_layer_table(tmp_path):
    spec_file = tmp_path / "net.yaml"
    spec_file.write_text("model:\n  - dense: 100\n  - relu\n  - dense: 3\n")
    result = runner.invoke(app, ["show", str(spec_file), "model.0.units=50"])
    assert result.exit_code == 0, result.output
    for default in ("data: {type: spiral", "loss: {type: softmax_cross_entropy}",
                    "regularization: {type: l2, strength: 0.001}", "optimizer: {type: sgd, lr: 1.0}",
                    "schedule: {type: constant", "seed: 0"):
        assert default in result.stdout  # every default made visible
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if re.match(r"^\s*(dense|relu)\d", line)}
    # 2 inputs -> 50 hidden -> 3 scores: (2*50 + 50) + 0 + (50*3 + 3)
    assert "150" in rows["dense1"] and "(N, 50)" in rows["dense1"]
    assert "(N, 50)" in rows["relu1"]
    assert "153" in rows["dense2"] and "(N, 3)" in rows["dense2"]
    assert re.search(r"total\b.*\b303\b", result.stdout)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_show_fits_100_columns_with_simple_tables(config: Path):
    result = runner.invoke(app, ["show", str(config)], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    assert not set("┏┳━┡╇┃") & set(result.stdout)  # no heavy box: the simple style trace uses
    assert any(set(line.strip()) == {"─"} for line in lines)  # the simple table's head rule


@pytest.mark.parametrize("name", ["fashion-mnist-mlp", "fashion-mnist-cnn"])
def test_show_works_without_the_dataset_and_marks_shapes_unknown(name, tmp_path, monkeypatch):
    monkeypatch.setenv("BPCLI_DATASETS", str(tmp_path / "nothing-installed"))
    result = runner.invoke(app, ["show", name], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "type: fashion-mnist" in result.stdout  # the spec is shown
    assert "layer shapes unknown: fashion-mnist is not installed" in result.stdout
    doc = json.loads(runner.invoke(app, ["show", name, "--format", "json"]).stdout)
    assert doc["model"]["input_shape"] is None and doc["model"]["layers"] == []
    assert "apt-get install dataset-fashion-mnist" in doc["model"]["note"]


def test_show_reads_fashion_mnist_shapes_from_the_headers():
    # conftest installs a 60-image copy; the header says 28x28, flatten makes it 784
    doc = json.loads(runner.invoke(app, ["show", "fashion-mnist-mlp", "--format", "json"]).stdout)
    assert doc["model"]["input_shape"] == [784] and doc["model"]["n_classes"] == 10
    assert doc["model"]["layers"][0]["output_shape"] == [256]
    doc = json.loads(runner.invoke(app, ["show", "fashion-mnist-cnn", "--format", "json"]).stdout)
    assert doc["model"]["input_shape"] == [1, 28, 28]


def test_resolved_yaml_wraps_long_sections_and_reads_back_the_same():
    from bpcli.render.spec import YAML_WIDTH, spec_yaml

    spec = {
        "seed": 3,
        "data": {"type": "csv", "path": "/" + "very-long-directory-name/" * 2 + "points.csv", "label": "y"},
        "model": [{"type": "dense", "units": 10 ** 5, "init": "he"}, {"type": "relu"}],
        "train": {f"option_{i}": i * 1000 for i in range(20)},
    }
    text = spec_yaml(spec)
    assert max(len(line) for line in text.splitlines()) <= YAML_WIDTH
    assert yaml.safe_load(text) == spec
    assert "seed: 3\n" in text and "- {type: relu}" in text


def test_show_json_has_the_spec_and_every_layer():
    result = runner.invoke(app, ["show", "cnn", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    layers = out["model"]["layers"]
    assert out["model"]["input_shape"] == [1, 12, 12]
    assert layers[0] == {"name": "conv2d1", "type": "conv2d", "inputs": ["input"], "output_shape": [8, 12, 12],
                         "params": 8 * 1 * 3 * 3 + 8}
    assert layers[-1]["output_shape"] == [3] and layers[-1]["params"] == 16 * 3 * 3 * 3 + 3
    assert out["model"]["total_params"] == sum(layer["params"] for layer in layers)
    assert out["spec"]["model"][0]["filters"] == 8


def test_show_a_missing_file_lists_the_builtin_specs():
    result = runner.invoke(app, ["show", "no-such-spec.yaml"])
    assert result.exit_code == 2
    assert "error: no-such-spec.yaml: spec file not found" in result.stderr
    assert "built-in specs:" in result.stderr
    assert "spiral" in result.stderr and "residual" in result.stderr


def test_show_without_a_config_shows_the_spiral_with_overrides():
    result = runner.invoke(app, ["show", "optimizer.lr=0.25", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["source"] == "built-in spec spiral" and out["path"].endswith("spiral.yaml")
    assert out["spec"]["optimizer"]["lr"] == 0.25


# --- bpcli schema -----------------------------------------------------------------------


def _check(instance, schema, root, path="$"):
    """A small JSON Schema subset checker (enough for this schema); returns a list of errors."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _check(instance, target, root, path)
    errors = []
    types = {"object": dict, "array": list, "string": str, "null": type(None), "boolean": bool}
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = False
        for t in allowed:
            if t == "integer":
                ok |= isinstance(instance, int) and not isinstance(instance, bool)
            elif t == "number":
                ok |= isinstance(instance, (int, float)) and not isinstance(instance, bool)
            else:
                ok |= isinstance(instance, types[t])
        if not ok:
            return [f"{path}: not {allowed}"]
    if "const" in schema and instance != schema["const"]:
        return [f"{path}: != {schema['const']}"]
    if "enum" in schema and instance not in schema["enum"]:
        return [f"{path}: not in enum"]
    if isinstance(instance, str) and "pattern" in schema and not re.search(schema["pattern"], instance):
        return [f"{path}: does not match {schema['pattern']}"]
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{path}: below minimum")
        if "exclusiveMinimum" in schema and instance <= schema["exclusiveMinimum"]:
            errors.append(f"{path}: not above exclusiveMinimum")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        errors += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in instance]
        for key, value in instance.items():
            if key in props:
                errors += _check(value, props[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += _check(value, schema["additionalProperties"], root, f"{path}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for i, value in enumerate(instance):
            errors += _check(value, schema["items"], root, f"{path}[{i}]")
    if "anyOf" in schema and not any(not _check(instance, s, root, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches no anyOf arm")
    if "oneOf" in schema and sum(not _check(instance, s, root, path) for s in schema["oneOf"]) != 1:
        errors.append(f"{path}: does not match exactly one oneOf arm")
    return errors


@pytest.fixture(scope="module")
def schema():
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_schema_lists_every_layer_with_its_options(schema):
    from bpcli.nn.layer import LAYERS

    for name in LAYERS.names():
        long_form = schema["$defs"][f"layer_{name}"]
        assert long_form["properties"]["type"] == {"const": name}
    assert schema["$defs"]["layer_dense"]["properties"]["units"]["type"] == "integer"
    assert schema["$defs"]["layer_dense"]["properties"]["units"]["minimum"] == 1


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_schema_accepts_every_config(schema, config):
    document, _ = parse_yaml(config.read_text())  # 1e-4 is a number, as bpcli reads it
    assert _check(document, schema, schema) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"model": [{"dens": 3}]},
        {"model": [{"dense": "many"}]},
        {"model": [{"type": "dense", "unit": 3}]},
        {"model": [{"type": "dense", "units": True}]},
        {"model": ["relu"], "optimiser": {"lr": 0.1}},
        {"model": ["relu"], "optimizer": {"type": "adma"}},
        {"model": ["relu"], "train": {"epochs": 0}},
        {"optimizer": "sgd"},
    ],
)
def test_schema_rejects_broken_specs(schema, bad):
    assert _check(bad, schema, schema) != []


# --- after `pip install .` (not editable) --------------------------------------------------


@pytest.mark.slow
def test_builtin_configs_work_after_a_non_editable_install(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True,
    )
    site = tmp_path / "site"
    wheel = next(wheels.glob("bpcli-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    script = (
        "import bpcli, sys; from pathlib import Path\n"
        "assert Path(bpcli.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), bpcli.__file__\n"
        "from bpcli.data import load_data\n"
        "from bpcli.spec import build_model, builtin_names, load_spec\n"
        "for name in builtin_names():\n"
        "    spec = load_spec(name)\n"
        "    data = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed)\n"
        "    build_model(spec, data.input_shape, data.n_classes)\n"
        "print(' '.join(builtin_names()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", script, str(site)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert REQUIRED_EXAMPLES <= set(proc.stdout.split())
    show = subprocess.run([sys.executable, "-m", "bpcli", "show", "user-layer"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert show.returncode == 0, show.stderr
    assert "swish1" in show.stdout


def test_schema_can_be_written_to_a_file_and_help_has_examples(tmp_path):
    out = tmp_path / "spec.schema.json"
    result = runner.invoke(app, ["schema", "-o", str(out)])
    assert result.exit_code == 0
    assert json.loads(out.read_text())["title"] == "bpcli spec"
    for command in ("show", "schema"):
        help_text = runner.invoke(app, [command, "--help"]).stdout
        assert "Examples:" in help_text and f"bpcli {command}" in help_text
