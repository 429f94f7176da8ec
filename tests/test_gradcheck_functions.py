"""gradcheck --fn and the library's check_functions / check_loss on CS231n-style code."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.gradcheck.check import check_functions, check_loss

CS231N = Path(__file__).parent / "fixtures" / "cs231n"
runner = CliRunner()


def load(name):
    spec = importlib.util.spec_from_file_location(f"cs231n_fixture_{name}", CS231N / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


layers, classifiers = load("layers"), load("classifiers")


def gradcheck(*args):
    result = runner.invoke(app, ["gradcheck", *args, "--format", "json"])
    doc = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, doc


CLI_CASES = [  # (--fn, arguments, gradient names in the report)
    ("layers.py:affine_forward", ["x=4,3,2", "w=6,5", "b=5,"], ["dx", "dw", "db"]),
    ("layers.py:relu_forward", ["x=4,5"], ["dx"]),
    ("layers.py:conv_forward_naive", ["x=2,3,5,5", "w=2,3,3,3", "b=2,", "conv_param={stride: 2, pad: 1}"],
     ["dx", "dw", "db"]),
    ("layers.py:max_pool_forward_naive", ["x=2,2,4,4", "pool_param={pool_height: 2, pool_width: 2, stride: 2}"],
     ["dx"]),
    ("layers.py:batchnorm_forward", ["x=6,4", "gamma=4,", "beta=4,", "bn_param={mode: train}"],
     ["dx", "dgamma", "dbeta"]),
    ("layers.py:dropout_forward", ["x=4,5", "dropout_param={p: 0.6, mode: train, seed: 3}"], ["dx"]),
    ("layers.py:svm_loss", ["x=5,4", "y=[0,3,1,2,0]"], ["dx"]),
    ("layers.py:softmax_loss", ["x=5,4", "y=[0,3,1,2,0]"], ["dx"]),
    ("classifiers.py:svm_loss_naive", ["W=6,3", "X=5,6", "y=[0,2,1,0,1]", "reg=0.1", "--wrt", "W"], ["dW"]),
    ("classifiers.py:softmax_loss_naive", ["W=6,3", "X=randn(5,6)", "y=randint(3, 5)", "reg=0.1"], ["dW"]),
    ("classifiers.py:TwoLayerNet.loss", ["input_dim=6", "hidden_dim=5", "num_classes=3", "weight_scale=0.5",
                                         "reg=0.1", "X=4,6", "y=[0,1,2,0]"], ["W1", "b1", "W2", "b2"]),
    ("layers.py:affine_forward,affine_backward", ["x=3,4", "w=4,2", "b=randn(2)"], ["dx", "dw", "db"]),
]


@pytest.mark.parametrize("fn, args, names", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_the_cs231n_style_fixture_passes_from_the_cli(fn, args, names, monkeypatch):
    monkeypatch.chdir(CS231N)
    result, doc = gradcheck("--fn", fn, *args)
    assert result.exit_code == 0, result.output
    assert [c["name"] for c in doc["checks"]] == names
    assert all(c["status"] in ("ok", "kink", "zero") for c in doc["checks"]), doc["checks"]


def test_the_fixture_passes_from_python_and_a_broken_copy_does_not():
    rng = np.random.default_rng(0)
    inputs = dict(x=rng.standard_normal((4, 5)), w=rng.standard_normal((5, 3)), b=rng.standard_normal(3))
    report = check_functions(layers.affine_forward, layers.affine_backward, inputs)
    assert report.passed and report.max_rel_error < 1e-7
    assert [c.name for c in report.checks] == ["dx", "dw", "db"]

    def halved_backward(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return dx, dw / 2, db

    broken = check_functions(layers.affine_forward, halved_backward, inputs)
    assert not broken.passed and [c.name for c in broken.failures()] == ["dw"]
    net = classifiers.TwoLayerNet(6, 5, 3, weight_scale=0.5, reg=0.1)
    loss = check_loss(net.loss, dict(X=rng.standard_normal((4, 6)), y=np.array([0, 1, 2, 0])))
    assert loss.passed and {c.name for c in loss.checks} == {"W1", "b1", "W2", "b2"}


def test_a_mutable_argument_is_copied_per_evaluation_and_the_report_says_so(monkeypatch):
    monkeypatch.chdir(CS231N)
    result, doc = gradcheck("--fn", "layers.py:batchnorm_forward", "x=6,4", "gamma=4,", "beta=4,",
                            "bn_param={mode: train}")
    info = " ".join(doc["objectives"][0]["info"])
    assert "bn_param" in info and "changed by the call" in info
    # without the copy the running averages would drift and, in test mode, change the loss
    bn_param = {"mode": "train"}
    x = np.random.default_rng(0).standard_normal((6, 4))
    layers.batchnorm_forward(x, np.ones(4), np.zeros(4), bn_param)
    assert "running_mean" in bn_param  # the fixture really mutates its argument


@pytest.mark.parametrize("args, words", [
    (["--fn", "layers.py:affine_forward", "x=4,5"], "needs w, b"),
    (["--fn", "layers.py:affin_forward"], "did you mean 'affine_forward'"),
    (["--fn", "layers.py:affine_forward", "x=4,5", "w=5,3", "b=3,", "z=1"], "no argument 'z'"),
    (["--fn", "nothere.py:f"], "--fn: file 'nothere.py' not found (looked in"),
    (["--fn", "layers.py:affine_forward", "x=randn(4,", "w=5,3", "b=3,"], "'randn(4,'"),
    (["--fn", "layers.py:affine_forward", "x=randm(4,5)", "w=5,3", "b=3,"], "unknown constructor 'randm'"),
    (["--fn", "layers.py:svm_loss", "x=5,4", "y=randint(4)"], "randint(HIGH, SIZES...)"),
    (["--fn", "classifiers.py:svm_loss_naive", "W=6,3", "X=5,6", "y=[0,2,1,0,1]", "reg=0.1", "--wrt", "Q"],
     "'Q' is not a floating-point array argument"),
    (["--wrt", "W", "spiral"], "goes with --fn"),
    (["--fn", "layers.py:relu_forward", "x=4,5", "--dtype", "float16"], "unknown --dtype"),
])
def test_bad_fn_usage_exits_2_with_one_line(args, words, monkeypatch):
    monkeypatch.chdir(CS231N)
    result = runner.invoke(app, ["gradcheck", *args])
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_float32_uses_float32_steps_and_states_the_precision_reached(monkeypatch):
    monkeypatch.chdir(CS231N)
    result, doc = gradcheck("--fn", "layers.py:affine_forward", "x=4,5", "w=5,3", "b=3,", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    assert doc["dtype"] == "float32" and doc["h"] == pytest.approx(5e-3)
    eps32 = float(np.finfo(np.float32).eps)
    for c in doc["checks"]:
        # a float32 matmul of 5 terms is good to a few ε32, never to float64's 1e-15
        assert eps32 / 100 < c["precision"] < 100 * eps32, c
    result = runner.invoke(app, ["gradcheck", "--fn", "layers.py:affine_forward", "x=4,5", "w=5,3", "b=3,",
                                 "--dtype", "float32"], env={"COLUMNS": "100"})
    text = " ".join(result.stdout.split())
    assert "float32 backward agrees with the same code in float64" in text


def test_float32_catches_a_real_bug_and_passes_the_built_in_layers():
    from bpcli.gradcheck.check import check_layer

    rng = np.random.default_rng(0)
    inputs = dict(x=rng.standard_normal((4, 5)), w=rng.standard_normal((5, 3)), b=rng.standard_normal(3))

    def scaled(factor):
        def backward(dout, cache):
            dx, dw, db = layers.affine_backward(dout, cache)
            return dx, dw * factor, db
        return backward

    assert not check_functions(layers.affine_forward, scaled(1.05), inputs, dtype="float32").passed
    # 1% off sits between float32's ok (1e-3) and warn (1e-2) thresholds: a warning, not ok
    one_percent = check_functions(layers.affine_forward, scaled(1.01), inputs, dtype="float32")
    assert [c.status for c in one_percent.checks] == ["ok", "warn", "ok"]
    for name in ("dense", "relu", "batchnorm", "conv2d"):
        assert check_layer(name, dtype="float32").passed, name


WIDTH_CASES = [
    ["--fn", "layers.py:conv_forward_naive", "x=2,3,5,5", "w=2,3,3,3", "b=2,", "conv_param={stride: 2, pad: 1}"],
    ["--fn", "layers.py:batchnorm_forward", "x=6,4", "gamma=4,", "beta=4,", "bn_param={mode: train}",
     "--dtype", "float32"],
    ["--fn", "bugs.py:conv_forward_naive,conv_backward_assigns_windows", "x=2,2,7,7", "w=2,2,3,3", "b=2,",
     "conv_param={stride: 2, pad: 1}"],
    ["--fn", "classifiers.py:TwoLayerNet.loss", "input_dim=6", "hidden_dim=5", "num_classes=3", "X=4,6",
     "y=[0,1,2,0]", "--h-sweep"],
    ["spiral"],
    ["--layers"],
    ["x*sigmoid(x)", "x=0.3", "--h-sweep"],
]


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("args", WIDTH_CASES, ids=[" ".join(a[:2]) for a in WIDTH_CASES])
def test_output_fits_the_width_and_cuts_no_number(args, width, monkeypatch):
    monkeypatch.chdir(CS231N)
    result = runner.invoke(app, ["gradcheck", *args], env={"COLUMNS": str(width)})
    assert result.exit_code in (0, 1), result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    assert "…" not in result.stdout  # Rich's mark of a cut cell
    assert "\x1b[" not in result.stdout  # plain when piped
