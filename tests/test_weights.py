"""`bpcli export` / `bpcli import`: safetensors with torch state_dict names and layouts (checked
against the documented mapping with safetensors' own reader, and in torch itself when installed),
bpcli names, every mismatch named on import, and train.init_from."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file
from typer.testing import CliRunner

from bpcli.training.checkpoint import load_checkpoint
from bpcli.cli import app
from bpcli.trained.load import load_trained
from bpcli.training.entry import train_spec
from bpcli.spec import load_spec_text

runner = CliRunner()

CNN = """
seed: 0
data: {type: bars, images_per_class: 20, size: 12}
model:
  - conv2d: {filters: 4, kernel: 3, padding: 1}   # 0 Conv2d          (4, 12, 12)
  - batchnorm                                     # 1 BatchNorm2d
  - relu                                          # 2 ReLU
  - maxpool2d: {size: 2}                          # 3 MaxPool2d       (4, 6, 6)
  - spatial_groupnorm: {groups: 2}                # 4 GroupNorm
  - conv2d: {filters: 4, kernel: 3, stride: 2, bias: false}   # 5 Conv2d (4, 2, 2)
  - elu                                           # 6 ELU
  - avgpool2d: {size: 2, stride: 1}               # 7 AvgPool2d       (4, 1, 1)
  - dense: 8                                      # 8 Flatten, 9 Linear
  - layernorm                                     # 10 LayerNorm
  - tanh                                          # 11 Tanh
  - dropout: 0.3                                  # 12 Dropout
  - dense: 3                                      # 13 Linear
train: {epochs: 2, batch_size: 16}
"""
# the torch names the mapping in bpcli/weights/torch_layout.py promises for CNN, written out by hand
CNN_NAMES = {
    "0.weight": ("conv2d1.W", "same"), "0.bias": ("conv2d1.b", "same"),
    "1.weight": ("batchnorm1.gamma", "same"), "1.bias": ("batchnorm1.beta", "same"),
    "1.running_mean": ("batchnorm1.running_mean", "same"), "1.running_var": ("batchnorm1.running_var", "same"),
    "1.num_batches_tracked": (None, None),
    "4.weight": ("spatial_groupnorm1.gamma", "same"), "4.bias": ("spatial_groupnorm1.beta", "same"),
    "5.weight": ("conv2d2.W", "same"),
    "9.weight": ("dense1.W", "transposed"), "9.bias": ("dense1.b", "same"),
    "10.weight": ("layernorm1.gamma", "same"), "10.bias": ("layernorm1.beta", "same"),
    "13.weight": ("dense2.W", "transposed"), "13.bias": ("dense2.b", "same"),
}
MLP = """
seed: 1
data: {type: spiral, points_per_class: 30}
model:
  - dense: 6
  - groupnorm: {groups: 3}
  - leaky_relu: {alpha: 0.1}
  - dense: 5
  - sigmoid
  - dense: 3
  - log_softmax
train: {epochs: 3}
"""


ODD = """
seed: 2
data: {type: bars, images_per_class: 10, size: 12}
model:
  - conv2d: {filters: 3, kernel: [3, 1], stride: [1, 2], padding: [1, 0]}   # (3, 12, 6)
  - relu
  - maxpool2d: {size: [2, 1]}                                              # (3, 6, 6)
  - avgpool2d: {size: [1, 3], stride: [1, 2]}                              # (3, 6, 2)
  - dense: 3
  - softmax: {axis: 1}
train: {epochs: 1}
"""
SEQ = """
seed: 3
data: {type: npz, path: seq.npz}
model:
  - conv1d: {filters: 4, kernel: 3, padding: 1}
  - relu
  - conv1d: {filters: 2, kernel: 2, stride: 2, bias: false}
  - log_softmax: {axis: -1}
  - dense: 3
train: {epochs: 2}
"""


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return train_spec(load_spec_text(CNN), name="cnn", runs_root=root).run_dir.path


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return train_spec(load_spec_text(MLP), name="mlp", runs_root=root).run_dir.path


def export(run, out, *extra):
    result = runner.invoke(app, ["export", str(run), str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def test_torch_names_and_layouts_follow_the_documented_mapping(cnn_run, tmp_path):
    path = export(cnn_run, tmp_path / "cnn.safetensors")
    bpcli_arrays = load_checkpoint(cnn_run / "checkpoints" / "last.npz")
    arrays = {**bpcli_arrays.params, **bpcli_arrays.buffers}
    with safe_open(str(path), framework="np") as f:  # safetensors' own reader
        assert set(f.keys()) == set(CNN_NAMES)
        for name, (source, layout) in CNN_NAMES.items():
            tensor = f.get_tensor(name)
            if source is None:
                assert tensor.dtype == np.int64 and tensor.shape == ()
                continue
            expected = arrays[source].T if layout == "transposed" else arrays[source]
            np.testing.assert_array_equal(tensor, expected, err_msg=name)
        meta = json.loads(f.metadata()["bpcli"])
    assert meta["names"] == "torch" and meta["input_shape"] == [1, 12, 12] and meta["n_classes"] == 3
    modules = [m["module"] for m in meta["torch_sequential"]]
    assert modules == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "GroupNorm", "Conv2d", "ELU", "AvgPool2d",
                       "Flatten", "Linear", "LayerNorm", "Tanh", "Dropout", "Linear"]
    assert json.loads((tmp_path / "cnn.json").read_text()) == meta  # the same JSON beside the file
    assert meta["torch_sequential"][9]["args"] == {"in_features": 4, "out_features": 8, "bias": True}
    assert meta["torch_sequential"][1]["args"]["momentum"] == pytest.approx(0.1)  # torch's = 1 - bpcli's 0.9


def test_bpcli_names_keep_bpclis_names_and_layouts(cnn_run, tmp_path):
    path = export(cnn_run, tmp_path / "cnn.safetensors", "--names", "bpcli")
    ck = load_checkpoint(cnn_run / "checkpoints" / "last.npz")
    with safe_open(str(path), framework="np") as f:
        assert set(f.keys()) == set(ck.params) | set(ck.buffers)
        np.testing.assert_array_equal(f.get_tensor("dense1.W"), ck.params["dense1.W"])  # (D, M), not transposed


def _torch_sequential(torch, architecture):
    """The Sequential the JSON describes, built with nothing but torch.nn."""
    modules = []
    for m in architecture["torch_sequential"]:
        args = {k: tuple(v) if isinstance(v, list) and k != "normalized_shape" else v for k, v in m["args"].items()}
        modules.append(getattr(torch.nn, m["module"])(**args))
    return torch.nn.Sequential(*modules).double()


def odd_run(tmp_path, which):
    if which == "seq":
        rng = np.random.default_rng(0)
        np.savez(tmp_path / "seq.npz", X=rng.standard_normal((30, 2, 8)), y=np.arange(30) % 3)
        (tmp_path / "seq.yaml").write_text(SEQ)
        from bpcli.spec import load_spec

        return train_spec(load_spec(tmp_path / "seq.yaml"), name="seq", runs_root=tmp_path / "runs").run_dir.path
    return train_spec(load_spec_text(ODD), name="odd", runs_root=tmp_path / "runs").run_dir.path


@pytest.mark.parametrize("which", ["cnn", "mlp", "odd", "seq"])
def test_torch_loads_the_export_and_gives_the_same_outputs(which, cnn_run, mlp_run, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    run = {"cnn": cnn_run, "mlp": mlp_run}.get(which) or odd_run(tmp_path, which)
    path = export(run, tmp_path / "m.safetensors")
    net = _torch_sequential(torch, json.loads((tmp_path / "m.json").read_text()))
    net.load_state_dict(load_file(str(path)), strict=True)  # every name and shape must match
    net.eval()
    trained = load_trained(run)
    trained.model.graph.to(np.float64)
    X = np.random.default_rng(0).standard_normal((5, *trained.input_shape))
    ours = trained.model.scores(X)
    theirs = net(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)


def test_import_loads_the_export_back_and_evaluates_the_same(mlp_run, tmp_path):
    path = export(mlp_run, tmp_path / "mlp.safetensors")
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP)
    result = runner.invoke(app, ["import", str(path), str(spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["names"] == "torch"
    a = runner.invoke(app, ["evaluate", str(tmp_path / "mlp.npz"), "--format", "json"])
    b = runner.invoke(app, ["evaluate", str(mlp_run), "--format", "json"])
    assert json.loads(a.stdout)["metrics"] == json.loads(b.stdout)["metrics"]


def test_import_names_every_mismatch(mlp_run, tmp_path):
    path = export(mlp_run, tmp_path / "mlp.safetensors")
    tensors = {}
    with safe_open(str(path), framework="np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["0.weight"] = tensors["0.weight"][:, :1]  # (6, 1) where (6, 2) belongs
    del tensors["3.bias"]
    tensors["9.weight"] = np.zeros(2, np.float32)
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad))  # no bpcli metadata: as a file from elsewhere
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP)
    result = runner.invoke(app, ["import", str(bad), str(spec)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert "does not fit this model (torch names; 3 problem(s))" in lines[0]
    assert any("0.weight: shape (6, 1) in the file, the model's dense1.W needs (6, 2) as torch's (out, in)" in x for x in lines)
    assert any("missing 3.bias (the model's dense2.b, shape (5,))" in x for x in lines)
    assert any("unexpected 9.weight (shape (2,))" in x for x in lines)
    assert not (tmp_path / "bad.npz").exists()


def test_a_torch_state_dict_saved_elsewhere_imports(mlp_run, tmp_path):
    # what `safetensors.torch.save_file(net.state_dict(), ...)` gives: torch names, no bpcli metadata, float64
    ck = load_checkpoint(mlp_run / "checkpoints" / "last.npz")
    p = ck.params
    tensors = {"0.weight": p["dense1.W"].T, "0.bias": p["dense1.b"], "1.weight": p["groupnorm1.gamma"],
               "1.bias": p["groupnorm1.beta"], "3.weight": p["dense2.W"].T, "3.bias": p["dense2.b"],
               "5.weight": p["dense3.W"].T, "5.bias": p["dense3.b"]}
    plain = tmp_path / "plain.safetensors"
    save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in tensors.items()}, str(plain))
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP)
    result = runner.invoke(app, ["import", str(plain), str(spec), "-o", str(tmp_path / "x.npz")])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "x.npz").params["dense2.W"], p["dense2.W"])


@pytest.mark.parametrize("content, message", [
    (b"not safetensors at all", "not a readable .safetensors file"),
    (None, "weights must be float16, float32 or float64"),
])
def test_unreadable_weights_are_one_line_errors(tmp_path, content, message):
    bad = tmp_path / "w.safetensors"
    if content is None:
        save_file({"0.weight": np.zeros((3, 2), np.int32)}, str(bad))
    else:
        bad.write_bytes(content)
    result = runner.invoke(app, ["import", str(bad), "spiral"])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_graph_models_export_with_bpcli_names_only(tmp_path):
    run = train_spec(load_spec_text("model:\n  a: {type: dense, units: 4}\n  b: {type: dense, units: 4, in: input}\n"
                                    "  s: {type: add, in: [a, b]}\n  out: {type: dense, units: 3, in: s}\n"
                                    "train: {epochs: 1}\n"), name="g", runs_root=tmp_path).run_dir.path
    result = runner.invoke(app, ["export", str(run), str(tmp_path / "g.safetensors")])
    assert result.exit_code == 2
    assert "no torch.nn.Sequential equivalent; export it with --names bpcli" in result.stderr
    export(run, tmp_path / "g.safetensors", "--names", "bpcli")


def test_export_refuses_to_overwrite_and_wrong_suffixes(mlp_run, tmp_path):
    out = export(mlp_run, tmp_path / "m.safetensors")
    again = runner.invoke(app, ["export", str(mlp_run), str(out)])
    assert again.exit_code == 2 and "give --force" in again.stderr
    assert runner.invoke(app, ["export", str(mlp_run), str(out), "--force"]).exit_code == 0
    wrong = runner.invoke(app, ["export", str(mlp_run), str(tmp_path / "m.pt")])
    assert wrong.exit_code == 2 and "must end in .safetensors" in wrong.stderr
    names = runner.invoke(app, ["export", str(mlp_run), str(tmp_path / "n.safetensors"), "--names", "keras"])
    assert names.exit_code == 2 and "unknown --names 'keras'" in names.stderr


def test_train_init_from_starts_at_the_exported_weights(mlp_run, tmp_path):
    path = export(mlp_run, tmp_path / "mlp.safetensors")
    spec = load_spec_text(MLP, ["train.epochs=1", f"train.init_from={path}", "optimizer.lr=1e-12"])
    run = train_spec(spec, name="warm", runs_root=tmp_path / "runs")
    # a learning rate of 1e-12: one epoch changes nothing visible, so the weights are the export's
    for k, v in load_checkpoint(mlp_run / "checkpoints" / "last.npz").params.items():
        np.testing.assert_allclose(run.model.graph.params()[k], v, rtol=1e-5, atol=1e-8)


def test_help_of_export_and_import_has_examples():
    for command in ("export", "import"):
        text = runner.invoke(app, [command, "--help"]).stdout
        assert "Examples:" in text and f"bpcli {command}" in text


def test_conv1d_and_flatten_before_linear_follow_the_mapping(tmp_path):
    run = odd_run(tmp_path, "seq")
    path = export(run, tmp_path / "seq.safetensors")
    ck = load_checkpoint(run / "checkpoints" / "last.npz").params
    with safe_open(str(path), framework="np") as f:
        assert set(f.keys()) == {"0.weight", "0.bias", "2.weight", "5.weight", "5.bias"}
        np.testing.assert_array_equal(f.get_tensor("0.weight"), ck["conv1d1.W"])  # (F, C, k) as is
        np.testing.assert_array_equal(f.get_tensor("5.weight"), ck["dense1.W"].T)
        modules = [m["module"] for m in json.loads(f.metadata()["bpcli"])["torch_sequential"]]
    assert modules == ["Conv1d", "ReLU", "Conv1d", "LogSoftmax", "Flatten", "Linear"]
