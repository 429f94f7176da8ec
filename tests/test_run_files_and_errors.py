"""The files of train / evaluate / predict and their errors: bad --out / --plot paths refused
before training, safe prediction files, data loss vs regularization loss, the
checkpoint evaluate uses, finished runs, CSV messages, checkpoint permissions."""

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bpcli.training.checkpoint import load_checkpoint
from bpcli.cli import app
from bpcli.data import load_data
from bpcli.errors import DataError, UsageError
from bpcli.training.run_dir import RunDir

runner = CliRunner()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 4-epoch spiral run with a validation split (shared by the read-only tests below)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    result = runner.invoke(app, ["train", "train.epochs=4", "data.val_fraction=0.2", "--quiet", "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run


def points_csv(path, rows, header="x1,x2"):
    path.write_text(header + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return path


# 1. --out that cannot be a directory
@pytest.mark.parametrize("make_out", [lambda t: t / "a-file", lambda t: Path("/dev/null"), lambda t: t / "a-file" / "sub"],
                         ids=["existing-file", "dev-null", "under-a-file"])
def test_train_out_that_cannot_be_a_directory_is_a_usage_error_before_training(tmp_path, make_out):
    (tmp_path / "a-file").write_text("keep me\n")
    out = make_out(tmp_path)
    result = runner.invoke(app, ["train", "train.epochs=1", "--quiet", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert f"cannot create run directory {out}" in result.stderr and "not a directory" in result.stderr
    assert "internal error" not in result.output and "sanity" not in result.output
    assert (tmp_path / "a-file").read_text() == "keep me\n"


def test_run_dir_create_turns_os_errors_into_usage_errors(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError, match="cannot create run directory"):
        RunDir.create("x", tmp_path / "f" / "run")


# 2. --plot
def test_plot_with_an_unknown_suffix_or_missing_directory_is_refused_before_training(tmp_path):
    pytest.importorskip("matplotlib")
    for plot, words in [(tmp_path / "x.txt", "unknown image format '.txt'"),
                        (tmp_path / "nodir" / "x.png", "does not exist")]:
        result = runner.invoke(app, ["train", "--plot", str(plot), "--out", str(tmp_path / "r")])
        assert result.exit_code == 2 and words in result.stderr, result.output
        assert not (tmp_path / "r").exists()  # refused before training


def test_plot_that_fails_to_save_after_training_keeps_the_run_and_exits_2(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import bpcli.render.plots as plots

    def fail(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(plots, "save_png", fail)
    result = runner.invoke(app, ["train", "train.epochs=2", "--plot", str(tmp_path / "p.png"),
                                 "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "cannot save the plot" in result.stderr and "Permission denied" in result.stderr
    assert "Traceback" not in result.output
    assert (tmp_path / "r" / "summary.json").is_file() and "final metrics" in result.stdout


# 3. predict --out
def test_predict_refuses_to_overwrite_its_input_or_an_existing_file(trained_run, tmp_path):
    inp = points_csv(tmp_path / "in.csv", [(0.1, 0.2), (0.3, -0.4)])
    before = inp.read_text()
    same = runner.invoke(app, ["predict", str(trained_run), str(inp), "--out", str(tmp_path / "." / "in.csv"), "--force"])
    assert same.exit_code == 2 and "is the input file" in same.stderr
    assert inp.read_text() == before
    existing = tmp_path / "old.csv"
    existing.write_text("precious\n")
    refused = runner.invoke(app, ["predict", str(trained_run), str(inp), "--out", str(existing)])
    assert refused.exit_code == 2 and "--force" in refused.stderr and existing.read_text() == "precious\n"
    forced = runner.invoke(app, ["predict", str(trained_run), str(inp), "--out", str(existing), "--force"])
    assert forced.exit_code == 0, forced.output
    assert existing.read_text().splitlines()[0].startswith("prediction,") and len(existing.read_text().splitlines()) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


@pytest.mark.parametrize("out", ["dir", "missing/x.csv", "/proc/nope/x.csv"])
def test_predict_out_that_cannot_be_written_is_a_clear_error(trained_run, tmp_path, out):
    inp = points_csv(tmp_path / "in.csv", [(0.1, 0.2)])
    (tmp_path / "dir").mkdir()
    target = Path(out) if out.startswith("/") else tmp_path / out
    result = runner.invoke(app, ["predict", str(trained_run), str(inp), "--out", str(target)])
    assert result.exit_code == 2, result.output
    assert str(target) in result.stderr and "internal error" not in result.output


def test_predict_names_the_column_it_skips_as_the_label(trained_run, tmp_path):
    inp = points_csv(tmp_path / "in.csv", [(0.1, 0.2, 1), (0.3, -0.4, 0)], header="x1,x2,cls")
    result = runner.invoke(app, ["predict", str(trained_run), str(inp)])
    assert result.exit_code == 0, result.output
    assert "ignoring column 3 ('cls') as the label" in result.stderr
    assert len(result.stdout.splitlines()) == 3


# 4. data loss and regularization loss
def test_data_loss_and_reg_loss_are_reported_apart(tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "train.epochs=3", "regularization.strength=0.01", "data.val_fraction=0.2",
                                 "--quiet", "--format", "json", "--out", str(run)])
    assert result.exit_code == 0, result.output
    final = json.loads(result.stdout)["final"]
    ck = load_checkpoint(run / "checkpoints" / "last.npz")
    weights = [v for k, v in ck.params.items() if k.endswith(".W")]
    assert weights
    l2 = 0.5 * 0.01 * sum(float((w.astype(np.float64) ** 2).sum()) for w in weights)  # CS231n's 0.5·λ·ΣW²
    assert final["reg_loss"] == pytest.approx(l2, rel=1e-4)
    # train_loss is the data loss alone: the mean softmax cross-entropy of the final weights
    from bpcli.trained.load import load_trained

    trained = load_trained(run)
    data = load_data({"type": "spiral", "val_fraction": 0.2}, seed=0)
    s = trained.model.scores(data.X_train).astype(np.float64)
    s -= s.max(axis=1, keepdims=True)
    ce = float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(len(s)), data.y_train]))
    assert final["train_loss"] == pytest.approx(ce, rel=1e-4)
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(l["train_reg_loss"] > 0 and l["val_loss"] is not None for l in lines)


# 5. evaluate uses the checkpoint summary.json describes
def test_evaluate_defaults_to_the_checkpoint_summary_describes(trained_run):
    final = json.loads((trained_run / "summary.json").read_text())["final"]
    ev = runner.invoke(app, ["evaluate", str(trained_run), "--format", "json"])
    assert ev.exit_code == 0, ev.output
    out = json.loads(ev.stdout)
    assert out["checkpoint"].endswith("last.npz")
    assert out["metrics"]["val_loss"] == pytest.approx(final["val_loss"], rel=1e-6)
    assert out["metrics"]["train_accuracy"] == final["train_accuracy"]
    best = runner.invoke(app, ["evaluate", str(trained_run), "--checkpoint", "best"])
    assert best.exit_code == 0 and "best.npz" in best.stdout
    bad = runner.invoke(app, ["evaluate", str(trained_run), "--checkpoint", "worst"])
    assert bad.exit_code == 2 and "last, best" in bad.stderr


# 6. resume of a finished run
def test_resuming_a_finished_run_says_how_to_extend_it(tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", "train.epochs=2", "--quiet", "--out", str(run)]).exit_code == 0
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 2
    assert "is complete (2/2 epochs)" in result.stderr and "train.epochs=" in result.stderr
    assert "resuming at epoch" not in result.output
    more = runner.invoke(app, ["train", "--resume", str(run), "train.epochs=3", "--quiet", "--format", "json"])
    assert more.exit_code == 0 and json.loads(more.stdout)["epochs"] == 3


# 8. data messages
def test_csv_path_that_is_a_directory_says_so(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        load_data({"type": "csv", "path": str(tmp_path)})


def test_csv_value_too_large_for_float32_names_row_and_column_without_a_warning(tmp_path, recwarn):
    f = tmp_path / "d.csv"
    f.write_text("a,b,label\n1,2,0\n3,1e300,1\n")
    with pytest.raises(DataError) as info:
        load_data({"type": "csv", "path": str(f)})
    message = info.value.message
    assert "row 3, column 2 ('b')" in message and "does not fit float32" in message
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_npz_value_too_large_for_float32_is_named(tmp_path, recwarn):
    f = tmp_path / "d.npz"
    np.savez(f, X=np.array([[1.0, 2.0], [3.0, -1e300]]), y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"at index \(1, 1\) does not fit float32"):
        load_data({"type": "npz", "path": str(f)})
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# 9. checkpoint permissions
def test_checkpoints_get_the_mode_of_other_run_files(trained_run):
    expected = 0o666 & ~_umask()
    for path in (trained_run / "checkpoints" / "last.npz", trained_run / "checkpoints" / "best.npz",
                 trained_run / "metrics.jsonl"):
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# 10. a checkpoint from another spec
def test_evaluate_warns_when_spec_yaml_disagrees_and_names_the_class_count(trained_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    spec = (run / "spec.yaml").read_text()
    (run / "spec.yaml").write_text(spec.replace("num_classes: 3", "num_classes: 5") if "num_classes: 3" in spec
                                   else spec + "\n# edited\nseed: 99\n")
    data = tmp_path / "five.csv"
    points_csv(data, [(0.1, 0.2, 0), (0.3, 0.1, 4)], header="x1,x2,label")
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(data)])
    assert result.exit_code == 2
    assert "warning:" in result.stderr and "does not match the spec recorded in" in result.stderr
    assert "the checkpoint's model predicts 3 classes" in result.stderr
