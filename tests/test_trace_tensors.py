"""`bpcli trace` with vectors and matrices: the lecture's worked examples against NumPy written
out by hand, the scalar engine at one entry, JSON/DOT, and hostile values and shapes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.expr.report import trace_expression

runner = CliRunner()


def trace(*args):
    return runner.invoke(app, ["trace", *args])


def lists(**arrays):
    return [(name, json.dumps(np.asarray(a).tolist())) for name, a in arrays.items()]


def grads_of(report):
    return {name: np.asarray(g) for name, g in report.gradients.items()}


def test_two_layer_net_matches_the_lecture_written_out_in_numpy():
    rng = np.random.default_rng(1)
    W1, W2, x = rng.standard_normal((4, 3)), rng.standard_normal((2, 4)), rng.standard_normal(3)
    report = trace_expression("W2@max(0, W1@x)", lists(W1=W1, W2=W2, x=x))
    h = W1 @ x
    a = np.maximum(0, h)
    dout = np.ones(2)  # f is a vector: the gradient of sum(f)
    da = W2.T @ dout
    dh = da * (h > 0)
    np.testing.assert_allclose(report.output, W2 @ a, rtol=1e-12)
    g = grads_of(report)
    np.testing.assert_allclose(g["W2"], np.outer(dout, a), rtol=1e-12)
    np.testing.assert_allclose(g["W1"], np.outer(dh, x), rtol=1e-12)
    np.testing.assert_allclose(g["x"], W1.T @ dh, rtol=1e-12)
    assert all(c.status == "ok" for c in report.checks)
    formulas = [s.formula for step in report.steps for s in step.inputs]
    assert "dW2 = dout ⊗ n5" in formulas and "dn3 = dout ⊙ [n3 > 0]" in formulas
    assert "dW1 = dout ⊗ x" in formulas and "dx = W1ᵀ @ dout" in formulas


def test_two_layer_net_on_a_batch_of_five_rows_with_biases():
    rng = np.random.default_rng(2)
    X, W1, b1 = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    W2, b2 = rng.standard_normal((4, 2)), rng.standard_normal(2)
    report = trace_expression("max(0, X@W1 + b1)@W2 + b2", lists(X=X, W1=W1, b1=b1, W2=W2, b2=b2))
    h = X @ W1 + b1
    a = np.maximum(0, h)
    dout = np.ones((5, 2))
    dh = (dout @ W2.T) * (h > 0)
    g = grads_of(report)
    np.testing.assert_allclose(report.output, a @ W2 + b2, rtol=1e-12)
    np.testing.assert_allclose(g["W2"], a.T @ dout, rtol=1e-12)
    np.testing.assert_allclose(g["b2"], dout.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(g["W1"], X.T @ dh, rtol=1e-12)
    np.testing.assert_allclose(g["b1"], dh.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(g["X"], dh @ W1.T, rtol=1e-12)
    formulas = [s.formula for step in report.steps for s in step.inputs]
    assert "db1 = Σ over rows of dout" in formulas and "dW1 = Xᵀ @ dout" in formulas
    # the same batch as columns: W2ᵀ@max(0, W1ᵀ@Xᵀ) gives the transposed scores and gradients
    columns = trace_expression("W2.T@max(0, W1.T@X.T)", lists(X=X, W1=W1, W2=W2))
    np.testing.assert_allclose(columns.output, (np.maximum(0, X @ W1) @ W2).T, rtol=1e-12)


def test_three_layer_net():
    rng = np.random.default_rng(3)
    W1, W2, W3 = rng.standard_normal((5, 3)), rng.standard_normal((4, 5)), rng.standard_normal((2, 4))
    x = rng.standard_normal(3)
    report = trace_expression("W3@max(0, W2@max(0, W1@x))", lists(W1=W1, W2=W2, W3=W3, x=x))
    h1 = W1 @ x
    a1 = np.maximum(0, h1)
    h2 = W2 @ a1
    a2 = np.maximum(0, h2)
    dh2 = (W3.T @ np.ones(2)) * (h2 > 0)
    dh1 = (W2.T @ dh2) * (h1 > 0)
    g = grads_of(report)
    np.testing.assert_allclose(g["W3"], np.outer(np.ones(2), a2), rtol=1e-12)
    np.testing.assert_allclose(g["W2"], np.outer(dh2, a1), rtol=1e-12)
    np.testing.assert_allclose(g["W1"], np.outer(dh1, x), rtol=1e-12)
    np.testing.assert_allclose(g["x"], W1.T @ dh1, rtol=1e-12)


def _svm_by_hand(X, W, b, y):
    """CS231n's vectorized multiclass SVM loss and its gradient, written out."""
    N = X.shape[0]
    S = X @ W + b
    margins = np.maximum(0, S - S[np.arange(N), y][:, None] + 1)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N
    mask = (margins > 0).astype(float)
    mask[np.arange(N), y] = -mask.sum(axis=1)
    dS = mask / N
    return loss, X.T @ dS, dS.sum(axis=0), dS @ W.T


def test_multiclass_svm_loss_on_a_batch():
    """The correct class's margin is max(0, 0 + 1) = 1 in every row: `/5 - 1` subtracts it.
    S - S[y] needs S[y] as a column: (S.T - S[y]).T broadcasts it along each row."""
    rng = np.random.default_rng(4)
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    y = np.array([0, 3, 1, 2, 3])
    expression = "sum(max(0, ((X@W + b).T - (X@W + b)[y]).T + 1))/5 - 1"
    report = trace_expression(expression, lists(X=X, W=W, b=b, y=y))
    loss, dW, db, dX = _svm_by_hand(X, W, b, y)
    g = grads_of(report)
    assert float(report.output) == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(g["W"], dW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g["b"], db, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g["X"], dX, rtol=1e-10, atol=1e-12)
    assert "y" not in g and report.labels == {"y"}


def test_softmax_loss_on_a_batch_fused_and_expanded():
    rng = np.random.default_rng(5)
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    y = np.array([1, 0, 3, 3, 2])
    S = X @ W + b
    p = np.exp(S - S.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(5), y]))
    dS = p.copy()
    dS[np.arange(5), y] -= 1
    dS /= 5
    for expand in (False, True):
        report = trace_expression("mean(logsumexp(X@W + b) - (X@W + b)[y])", lists(X=X, W=W, b=b, y=y),
                                  expand=expand)
        g = grads_of(report)
        assert float(report.output) == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(g["W"], X.T @ dS, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(g["b"], dS.sum(axis=0), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(g["X"], dS @ W.T, rtol=1e-10, atol=1e-14)
        assert all(c.status == "ok" for c in report.checks)
    ops = {n.op for n in report.graph.nodes}
    assert "logsumexp" not in ops and {"reduce_max", "exp", "sum", "log"} <= ops


def test_relu_of_4096_states_its_jacobian_and_never_forms_it():
    result = trace("max(0, x)", "x=randn(4096)")
    assert result.exit_code == 0, result.output
    assert "4096×4096 = 16,777,216 entries" in result.stdout
    assert "16.8 million entries, 67 MB in float32; not formed" in " ".join(result.stdout.split())
    report = trace_expression("max(0, x)", [("x", "randn(4096)")])
    (step,) = report.steps
    assert step.inputs[0].jacobian.matrix is None
    x = report.inputs["x"]
    assert step.inputs[0].jacobian.nonzeros == np.count_nonzero(x > 0)
    np.testing.assert_array_equal(report.gradients["x"], (x > 0).astype(float))
    assert report.checks[0].sampled and len(report.checks[0].indices) == 16


@pytest.mark.parametrize(
    "expression, values",
    [
        ("(x+y)*z", {"x": -2, "y": 5, "z": -4}),
        ("1/(1+exp(-(w0*x0+w1*x1+w2)))", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
        ("3*(a+b*c)", {"a": 5, "b": 4, "c": 2}),
        ("max(x, y)*sqrt(z) - x**y + tanh(z)/sigmoid(x)", {"x": 1.5, "y": 0.5, "z": 2.0}),
    ],
)
def test_a_tensor_of_one_entry_gives_the_scalar_engines_values_and_gradients(expression, values):
    scalar = trace_expression(expression, [(k, str(v)) for k, v in values.items()])
    tensor = trace_expression(expression, [(k, f"[{v}]") for k, v in values.items()])
    assert tensor.output.shape == (1,)
    assert float(tensor.output[0]) == pytest.approx(scalar.trace.output, rel=1e-15)
    for name, grad in scalar.trace.gradients.items():
        assert float(tensor.gradients[name][0]) == pytest.approx(grad, rel=1e-15, abs=1e-300), name


def test_json_keeps_the_scalar_keys_with_nested_lists_and_shapes():
    result = trace("W@x + b", "W=[[1,2],[3,4],[5,6]]", "x=[1,-1]", "b=ones(3)", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"expression", "inputs", "output", "gradients", "nodes", "steps"} <= set(doc)
    assert doc["inputs"]["W"] == [[1, 2], [3, 4], [5, 6]] and doc["shapes"]["W"] == [3, 2]
    assert doc["output"] == [0.0, 0.0, 0.0] and doc["output_shape"] == [3] and doc["upstream"] == "ones"
    assert doc["gradients"]["W"] == [[1, -1]] * 3 and doc["gradients"]["x"] == [9, 12]
    assert doc["gradient_shapes"]["b"] == [3]
    for node in doc["nodes"]:
        assert np.shape(node["value"]) == tuple(node["shape"])
    matmul = next(s for s in doc["steps"] if s["op"] == "matmul")
    assert [i["formula"] for i in matmul["inputs"]] == ["dW = dout ⊗ x", "dx = Wᵀ @ dout"]
    assert matmul["inputs"][0]["jacobian"] == {
        "shape": [3, 6], "entries": 18, "nonzeros": 6, "formed": None, "max_rel_difference": None}


def test_dout_is_the_upstream_gradient_of_a_vector_output():
    doc = json.loads(trace("2*x", "x=[1,2,3]", "--dout", "[1,0,-1]", "--format", "json").stdout)
    assert doc["upstream"] == "dout" and doc["gradients"]["x"] == [2, 0, -2]
    bad = trace("2*x", "x=[1,2,3]", "--dout", "[1,0]")
    assert bad.exit_code == 2 and "--dout has shape (2,) but f has shape (3,)" in bad.stderr


def test_jacobian_is_formed_when_small_and_refused_above_the_limit():
    result = trace("W@x", "W=[[1,2],[3,4]]", "x=[5,6]", "--jacobian")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "J = [[5 6 0 0] [0 0 5 6]]" in text and "Jᵀ·dout = VJP" in text
    report = trace_expression("W@x", [("W", "[[1,2],[3,4]]"), ("x", "[5,6]")], jacobian_limit=4096)
    np.testing.assert_allclose(report.steps[0].inputs[1].jacobian.matrix, [[1, 2], [3, 4]])
    limited = trace("W@x", "W=randn(3,4)", "x=randn(4)", "--jacobian", "--jacobian-limit", "20")
    assert "larger than --jacobian-limit 20" in " ".join(limited.stdout.split())


def test_dot_puts_shapes_on_the_edges():
    result = trace("W@x", "W=randn(3,4)", "x=randn(4)", "--format", "dot")
    assert result.exit_code == 0
    assert 'n0 -> n2 [label="(3,4)\\ndW = dout ⊗ x"' in result.stdout


def test_values_from_npy_and_csv_files(tmp_path):
    np.save(tmp_path / "W.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    (tmp_path / "x.csv").write_text("1,2\n")
    doc = json.loads(trace("sum(W@x.T)", f"W=@{tmp_path / 'W.npy'}", f"x=@{tmp_path / 'x.csv'}",
                           "--format", "json").stdout)
    assert doc["output"] == 16 and doc["gradients"]["x"] == [4, 6]


def test_seeded_constructors_repeat_and_differ_by_seed():
    first = trace_expression("sum(W)", [("W", "randn(2,3)")], seed=1).inputs["W"]
    again = trace_expression("sum(W)", [("W", "randn(2,3)")], seed=1).inputs["W"]
    other = trace_expression("sum(W)", [("W", "randn(2,3)")], seed=2).inputs["W"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    doc = json.loads(trace("sum(E) + sum(A)", "E=eye(2)", "A=arange(3)", "--format", "json").stdout)
    assert doc["inputs"]["E"] == [[1, 0], [0, 1]] and doc["inputs"]["A"] == [0, 1, 2]


def _object_array(path):
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["W@x", "W=randn(3,4)", "x=randn(3)"], "W@x: (3,4) @ (3,): the inner sizes 4 and 3 differ"),
        (["x + y", "x=[1,2,3]", "y=[1,2]"], "(3,) + (2,): the shapes do not broadcast"),
        (["sum(x, axis=2)", "x=ones(2,3)"], "axis 2 is out of range for a 2-D input"),
        (["S[y]", "S=ones(2,3)", "y=[0,5]"], "index 5 is out of range for an axis of size 3"),
        (["S[y]", "S=ones(2,3)", "y=[0.5,1]"], "label vector 'y' must be integers"),
        (["S[y]", "S=ones(2,3)", "y=[0,1,2]"], "one label per row: 3 labels for 2 rows"),
        (["x*2", "x=[[1,2],[3]]"], "ragged nested list"),
        (["x*2", "x=[1,[2]]"], "ragged nested list"),
        (["x*2", "x=[1,'a']"], "not a nested list of numbers"),
        (["x*2", "x=[1,NaN]"], "finite"),
        (["x*2", "x=randn(10000,10000)"], "too large: 10000×10000 = 100,000,000 entries"),
        (["x*2", "x=zeros(3,x)"], "sizes that are whole numbers"),
        (["x*2", "x=randnn(3)"], "did you mean 'randn'"),
        (["x*2", "x=@missing.npy"], "cannot read"),
        (["x*2", "x=@data.txt"], "must be a .npy or .csv file"),
        (["x@y", "x=1", "y=2"], "a scalar has no matrix product"),
        (["softmax(x)", "x=3"], "along the last axis"),
    ],
)
def test_bad_tensors_and_shapes_exit_2_with_one_message(args, message):
    result = trace(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("error:") == 1


def test_shape_error_has_a_caret_under_the_operator():
    result = trace("relu(W1@x) + b", "W1=randn(3,4)", "x=randn(3)", "b=zeros(3)")
    lines = result.stderr.splitlines()
    assert lines[1].strip() == "relu(W1@x) + b"
    assert lines[2].index("^") == lines[1].index("@")


def test_a_file_that_is_not_a_plain_array_is_refused_before_loading(tmp_path):
    path = _object_array(tmp_path / "pickled.npy")
    result = trace("x*2", f"x=@{path}")
    assert result.exit_code == 2 and "not a plain array of numbers" in result.stderr
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    result = trace("x*2", f"x=@{tmp_path / 'bad.csv'}")
    assert result.exit_code == 2 and "not a CSV of numbers" in result.stderr


def test_a_huge_npy_header_is_refused_before_anything_is_allocated(tmp_path):
    path = tmp_path / "huge.npy"
    with path.open("wb") as handle:  # a header that claims 10^9 entries, and no data
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 10_000)})
    result = trace("x*2", f"x=@{path}")
    assert result.exit_code == 2 and "too large" in result.stderr


def test_nan_in_a_tensor_gate_warns_and_exits_1():
    result = trace("log(x)", "x=[1,-1]", "--format", "json")
    assert result.exit_code == 1 and "gate n1 (log) gives nan/inf in 1 of 2 entries" in result.stderr
    assert json.loads(result.stdout)["output"][1] == "nan"


def test_scalar_values_still_take_the_scalar_engine():
    report = trace_expression("(x+y)*z", [("x", "-2"), ("y", "5"), ("z", "-4")])
    assert not getattr(report, "tensor", False) and report.trace.output == -12
    assert math.isclose(report.trace.gradients["z"], 3)


@pytest.mark.parametrize("expression", ["__import__('os')", "x.__class__", "open('PWNED', 'w')", "x; import os",
                                        "x[1:2]", "lambda: x", "[x for x in y]", "(" * 2000 + "x"])
def test_hostile_expressions_with_tensor_values_exit_2_and_nothing_runs(expression, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = trace(expression, "x=[1,2]")
    assert result.exit_code == 2 and "error:" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_broadcast_sums_are_explained_in_the_legend():
    result = trace("X + b", "X=ones(2,3)", "b=[1,2,3]")
    text = " ".join(result.stdout.split())
    assert "db = Σ over rows of dout" in text and "summed over that axis (Σ): the VJP of broadcasting" in text


def test_notebook_trace_takes_arrays_and_lists_and_displays_the_tensor_tables():
    import bpcli

    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    result = bpcli.trace("W@x", W=W, x=[5, 6])
    np.testing.assert_array_equal(result.output, W @ np.array([5.0, 6.0]))
    np.testing.assert_array_equal(result.gradients["W"], [[5, 6], [5, 6]])
    assert "dW = dout ⊗ x" in repr(result)
    assert bpcli.trace("sum(W)", W="randn(2,2)", seed=3).gradients["W"].shape == (2, 2)
    with pytest.raises(Exception, match="finite"):
        bpcli.trace("sum(W)", W=np.array([1.0, np.nan]))
