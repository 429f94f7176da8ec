"""NAME=VALUE overrides: typed like YAML scalars, applied before validation, unknown keys rejected."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.errors import SpecError
from bpcli.spec import load_spec, load_spec_text

CHAIN = "model:\n  - dense: 100\n  - relu\n  - {type: dense, units: 3}\n"
GRAPH = "model:\n  fc1: {dense: 8, in: input}\n  act: relu\n  out: {dense: 3}\n"
runner = CliRunner()


def test_values_are_typed_like_yaml_scalars():
    spec = load_spec_text(CHAIN, ["optimizer.lr=1e-3", "train.epochs=5", "train.shuffle=false",
                                  "train.batch_size=null", "seed=7", "train.clip_norm=2"])
    assert spec.optimizer["lr"] == pytest.approx(0.001) and isinstance(spec.optimizer["lr"], float)
    assert spec.train.epochs == 5 and type(spec.train.epochs) is int
    assert spec.train.shuffle is False
    assert spec.train.batch_size is None
    assert spec.seed == 7
    assert spec.train.clip_norm == 2.0 and isinstance(spec.train.clip_norm, float)  # int accepted as float


def test_list_items_by_index_including_shorthand_items():
    spec = load_spec_text(CHAIN, ["model.0.units=64", "model.-1.units=4"])
    assert [n.options.get("units") for n in spec.model] == [64, None, 4]


def test_graph_nodes_by_name():
    spec = load_spec_text(GRAPH, ["model.fc1.units=16"])
    assert spec.model[0].name == "fc1" and spec.model[0].options["units"] == 16


def test_override_can_replace_an_item_and_create_nested_mappings():
    spec = load_spec_text(CHAIN, ["model.1=tanh", "train.early_stopping.patience=3", "data.val_fraction=0.2"])
    assert spec.model[1].type == "tanh"
    assert spec.train.early_stopping.patience == 3
    assert spec.train.early_stopping.monitor == "val_loss"  # EarlyStopping's default


def test_switching_the_optimizer_type_starts_from_its_own_defaults():
    spec = load_spec_text(CHAIN, ["optimizer.type=adam"])
    from bpcli.nn.optim import OPTIMIZERS
    from bpcli.registry import options_of

    assert spec.optimizer["type"] == "adam"
    assert spec.optimizer["lr"] == options_of(OPTIMIZERS.get("adam"))["lr"].default


MOMENTUM_FILE = CHAIN + "optimizer: {type: momentum, lr: 0.5, momentum: 0.9}\n"


def test_switching_the_type_drops_the_files_options_the_new_type_does_not_take_and_says_so():
    spec = load_spec_text(MOMENTUM_FILE, ["optimizer.type=adam"], file="net.yaml")
    assert "momentum" not in spec.optimizer
    assert spec.optimizer["lr"] == 0.5  # adam takes lr: the file's value stays
    assert spec.optimizer["beta1"] == 0.9  # adam's own default
    assert spec.notes == ["note: optimizer.type=adam drops momentum=0.9 from net.yaml:5 "
                          "(adam has no such option) and keeps lr=0.5"]


def test_a_later_override_of_a_kept_option_is_not_reported_as_kept():
    spec = load_spec_text(MOMENTUM_FILE, ["optimizer.type=adam", "optimizer.lr=0.01"], file="net.yaml")
    assert spec.optimizer["lr"] == 0.01
    assert spec.notes == ["note: optimizer.type=adam drops momentum=0.9 from net.yaml:5 (adam has no such option)"]


def test_an_option_the_user_overrides_is_never_dropped_silently():
    with pytest.raises(SpecError, match="unknown option 'momentum' for optimizer 'adam'"):
        load_spec_text(MOMENTUM_FILE, ["optimizer.momentum=0.8", "optimizer.type=adam"])


def test_a_type_that_takes_every_option_of_the_file_drops_nothing():
    spec = load_spec_text(MOMENTUM_FILE, ["optimizer.type=nesterov"])
    assert spec.optimizer == {"type": "nesterov", "lr": 0.5, "momentum": 0.9} and spec.notes == []


def test_a_dataset_type_switch_keeps_the_split_options():
    text = CHAIN + "data: {type: spiral, points_per_class: 50, classes: 3, val_fraction: 0.2}\n"
    spec = load_spec_text(text, ["data.type=moons"], file="net.yaml")
    assert spec.data["val_fraction"] == 0.2 and spec.data["points_per_class"] == 50
    assert "classes" not in spec.data
    assert spec.notes == ["note: data.type=moons drops classes=3 from net.yaml:5 (moons has no such option) "
                          "and keeps points_per_class=50, val_fraction=0.2"]


@pytest.mark.parametrize("command", [["show", "spiral"], ["gradcheck", "spiral", "--mode", "sparse", "--k", "2"]])
def test_the_note_goes_to_stderr_and_stdout_stays_json(command):
    result = runner.invoke(app, [*command, "optimizer.type=adam", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    import json

    json.loads(result.stdout)
    assert "note: optimizer.type=adam drops momentum=0.9 from built-in spec spiral:17" in result.stderr


def test_train_with_a_type_override_runs_and_warns_even_when_quiet(tmp_path):
    result = runner.invoke(app, ["train", "spiral", "optimizer.type=adam", "optimizer.lr=0.01", "train.epochs=1",
                                 "--quiet", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("note: optimizer.type=adam drops momentum=0.9") == 1


def test_a_float_is_not_an_int_even_from_the_command_line():
    with pytest.raises(SpecError, match="expected an integer, got 5.0"):
        load_spec_text(CHAIN, ["train.epochs=5.0"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("optimizer.lrr=0.1", "unknown option 'lrr' for optimizer 'sgd' (did you mean 'lr'?)"),
        ("trian.epochs=3", "unknown section 'trian' (did you mean 'train'?)"),
        ("model.0.unit=3", "unknown option 'unit' for layer 'dense' (did you mean 'units'?)"),
        ("model.9.units=3", "index 9 is out of range ('model' has 3 items)"),
        ("model.first.units=3", "'model' is a list: use an index, not 'first'"),
        ("seed.value=3", "seed: expected an integer, got a mapping"),
        ("optimizer.lr.x=3", "'optimizer.lr' is 1.0, not a mapping"),
        ("train.epochs=[1, 2", "invalid YAML"),
        ("optimizer.lr", "expected NAME=VALUE"),
    ],
)
def test_bad_overrides_exit_2_and_name_the_override(tmp_path, override, message):
    spec_file = tmp_path / "net.yaml"
    spec_file.write_text(CHAIN + "optimizer: {type: sgd, lr: 1.0}\n")
    result = runner.invoke(app, ["show", str(spec_file), override])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: <override {override}>"), result.stderr
    assert message in result.stderr


def test_overrides_apply_to_a_builtin_spec_by_name():
    spec = load_spec("spiral", ["model.0.units=64", "optimizer.lr=0.125"])
    assert spec.model[0].options["units"] == 64
    assert spec.optimizer["lr"] == 0.125
