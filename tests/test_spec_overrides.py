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
