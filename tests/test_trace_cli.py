"""`bpcli trace` through Typer's CliRunner (stdout is not a terminal there: plain text)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpcli.cli import app

runner = CliRunner()
NEURON_ARGS = ("1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3")
ROOT = Path(__file__).resolve().parents[1]


def trace(*args: str):
    return runner.invoke(app, ["trace", *args])


def trace_json(*args: str) -> dict:
    result = trace(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rich_output_shows_forward_backward_and_checked_gradients_as_plain_text():
    result = trace("(x+y)*z", "x=-2", "y=5", "z=-4")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[" not in out  # no ANSI codes when stdout is not a terminal
    assert "Forward pass" in out and "Backward pass" in out and "Gradients" in out
    assert "f = -12" in out
    assert "switches" in out and "distributes" in out
    assert max(len(line) for line in out.splitlines()) <= 100
    rows = {
        line.split()[0]: line.split()
        for line in out.splitlines()
        if line.strip().startswith(("x ", "y ", "z "))
    }
    assert rows["x"][1:5] == ["-2", "-4", "-4", rows["x"][4]] and rows["x"][-1] == "ok"
    assert rows["z"][2] == "3" and rows["z"][-1] == "ok"


def test_rich_output_shows_the_reciprocal_formula_and_the_lecture_values():
    out = trace("1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3").stdout
    assert "-1/x² = -0.53" in out
    for value in ("0.73", "1.37", "0.37"):
        assert value in out
    assert "exp(x) = 0.37" in out


def test_mul_local_gradient_names_the_other_input_not_the_op_tables_variable():
    out = trace("w1*x1", "w1=-3", "x1=-2").stdout
    backward = out.split("Backward pass", 1)[1].split("Gradients", 1)[0]
    assert "x1 = -2" in backward and "w1 = -3" in backward  # ∂(w1·x1)/∂w1 = x1, ∂/∂x1 = w1
    assert "y = " not in backward


def test_fork_shows_the_plus_equals_accumulation():
    out = trace("x*x*y", "x=3", "y=2").stdout
    backward = out.split("Backward pass", 1)[1].split("Gate roles", 1)[0]
    # x*x*y at x=3, y=2: the x*x gate gets upstream y = 2 and sends 2·3 = 6 to each x slot
    assert backward.count("2×3 = 6") == 2 and "x += 6 → 12" in backward
    assert "(×2, summed)" in out


def test_json_has_the_public_keys_and_the_lecture_numbers():
    doc = trace_json("(x+y)*z", "x=-2", "y=5", "z=-4")
    for key in ("expression", "inputs", "output", "gradients", "nodes", "steps"):
        assert key in doc
    assert doc["inputs"] == {"x": -2, "y": 5, "z": -4}
    assert doc["output"] == -12 and doc["gradients"] == {"x": -4, "y": -4, "z": 3}
    for node in doc["nodes"]:
        assert {"id", "op", "inputs", "value", "grad"} <= set(node)
    assert [s["op"] for s in doc["steps"]] == ["mul", "add"]
    assert all(c["status"] == "ok" for c in doc["checks"])


def test_json_for_the_fork_marks_accumulation():
    doc = trace_json("x*x*y", "x=3", "y=2")
    x_id = next(n["id"] for n in doc["nodes"] if n.get("name") == "x")
    into_x = [i for s in doc["steps"] for i in s["inputs"] if i["node"] == x_id]
    assert [i["accumulate"] for i in into_x] == [False, True] and into_x[-1]["grad"] == 12


def test_unset_variables_are_drawn_with_the_seed_and_shown_as_drawn():
    first = trace_json("x*y", "x=2", "--seed", "5")
    again = trace_json("x*y", "x=2", "--seed", "5")
    other = trace_json("x*y", "x=2", "--seed", "6")
    assert first["drawn"] == ["y"] and first["inputs"]["x"] == 2
    assert first["inputs"] == again["inputs"] and first["inputs"]["y"] != other["inputs"]["y"]
    assert first["gradients"]["x"] == first["inputs"]["y"]
    out = trace("x*y", "x=2", "--seed", "5").stdout
    assert "drawn (--seed 5): y =" in out


def test_expand_and_fused_give_the_same_gradients_through_the_cli():
    values = ["w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
    fused = trace_json("sigmoid(w0*x0+w1*x1+w2)", *values)
    expanded = trace_json("sigmoid(w0*x0+w1*x1+w2)", *values, "--expand")
    assert expanded["expanded"] and len(expanded["nodes"]) > len(fused["nodes"])
    for name, grad in fused["gradients"].items():
        assert expanded["gradients"][name] == pytest.approx(grad, rel=1e-12)
    gates = [n["gate"] for n in expanded["nodes"] if n["inputs"]]
    assert gates[-4:] == ["*-1", "exp", "+1", "1/x"]
    fused_out = trace("sigmoid(w0*x0+w1*x1+w2)", *values).stdout
    assert "σ(1-σ) = 0.20" in fused_out


def test_dot_is_the_lecture_circuit():
    result = trace(*NEURON_ARGS, "--format", "dot")
    assert result.exit_code == 0
    dot = result.stdout
    assert dot.startswith("digraph trace {") and dot.rstrip().endswith("}")
    gates = re.findall(r'shape=circle, fixedsize=true, width=0.55, label="([^"]+)"', dot)
    assert sorted(gates) == sorted(["*", "*", "+", "+", "*-1", "exp", "+1", "1/x"])
    assert 'label="1"' not in dot  # the constant is folded into its +1 gate
    assert "value" not in dot and "grad" not in dot and "(n" not in dot  # no clutter
    edges = [line for line in dot.splitlines() if "->" in line]
    assert len(edges) == 13  # 12 wires between gates and inputs + the output
    for line in edges:  # value in green above the gradient in red, beside the wire
        assert re.search(r'<font color="#1b7a1b">[^<]+</font><br/><font color="#c62828">[^<]+</font>', line)
    (w0,) = [e for e in edges if e.startswith("  n0 ->")]
    assert w0.endswith('>2</font><br/><font color="#c62828">-0.20</font>>];')  # the lecture's w0


def test_dot_forks_through_a_plus_equals_point():
    dot = trace("x*x*y", "x=3", "y=2", "--format", "dot").stdout
    assert "fork0 [shape=point" in dot and "+=</font>" in dot
    assert re.search(r"n0 -> fork0 .*>3</font><br/><font[^>]*>12</font>", dot)  # 6 + 6
    assert len(re.findall(r"fork0 -> n\d+ .*>3</font><br/><font[^>]*>6</font>", dot)) == 2


def test_graphviz_reads_the_dot_output():
    dot_program = shutil.which("dot")
    if dot_program is None:
        pytest.skip("Graphviz is optional")
    dot = trace(*NEURON_ARGS, "--format", "dot").stdout
    done = subprocess.run([dot_program, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "&#45;0.59</text>" in done.stdout  # x1's gradient, as a label of its own


@pytest.mark.parametrize("suffix, marker", [(".svg", "<svg"), (".html", "<html")])
def test_export_tables_writes_the_terminal_tables_without_fetching_a_font(tmp_path, suffix, marker):
    target = tmp_path / f"trace{suffix}"
    result = trace("3*(a+b*c)", "a=5", "b=4", "c=2", "--export-tables", str(target))
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert marker in text and "Backward" in text
    assert "url(\"http" not in text and "cdnjs" not in text  # no font fetched


@pytest.mark.parametrize("suffix, marker", [(".svg", "<svg"), (".html", "<html")])
def test_export_draws_the_circuit(tmp_path, suffix, marker):
    target = tmp_path / f"circuit{suffix}"
    result = trace("3*(a+b*c)", "a=5", "b=4", "c=2", "--export", str(target))
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert marker in text and 'class="gate"' in text and ">*3</text>" in text


def test_export_next_to_json_keeps_stdout_pure_json(tmp_path):
    target = tmp_path / "t.svg"
    result = trace("x*y", "x=1", "y=2", "--format", "json", "--export", str(target))
    assert result.exit_code == 0
    json.loads(result.stdout)
    assert target.exists()


def test_expression_starting_with_minus_is_accepted():
    doc = trace_json("-x**2", "x=3")
    assert doc["output"] == -9 and doc["gradients"] == {"x": -6}


@pytest.mark.parametrize(
    "args, message",
    [
        (["x*y", "x=1", "w=2"], "'w' is not a variable"),
        (["x*y", "x=1", "y"], "expected NAME=VALUE"),
        (["x*y", "x=abc"], "not a number"),
        (["x*y", "x=1", "x=2"], "given twice"),
        (["x*y", "x=inf"], "finite"),
        (["x*y", "--format", "xml"], "--format"),
        (["x*y", "--export", "out.png"], ".svg or .html"),
        (["x*y", "--export-tables", "out.txt"], "--export-tables must end in .svg or .html"),
        (["+".join(f"x{i}*y{i}" for i in range(200)), "--export", "big.svg"], "at most 300 gates"),
        (["sigmod(x)"], "did you mean 'sigmoid'"),
        (["max()"], "2 or more arguments"),
        ([""], "empty"),
    ],
)
def test_bad_usage_exits_2_with_a_message(args, message):
    result = trace(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output and "Traceback" not in result.stderr


HOSTILE = [
    "__import__('os').system('touch PWNED')",
    "x.__class__",
    "(lambda: 1)()",
    "x[0]",
    "open('PWNED', 'w')",
    "x; import os",
    "exec('1')",
    "eval('1')",
    "'a' * 3",
    "x if x else y",
    "[x for x in y]",
    "{1: 2}",
    "x @ y",
    "`x`",
    "x\\ny",
    "(" * 2000 + "x",
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_input_exits_2_with_a_caret_and_nothing_runs(expression, tmp_path, monkeypatch):
    import builtins

    import bpcli.expr.report  # noqa: F401  (import before eval/exec are forbidden)
    import bpcli.render.trace_rich  # noqa: F401

    monkeypatch.chdir(tmp_path)
    seen: list[str] = []

    def spy(real):
        def call(source, *args, **kwargs):
            seen.append(str(source))
            return real(source, *args, **kwargs)

        return call

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, spy(getattr(builtins, name)))
    result = trace(expression)
    monkeypatch.undo()
    # Typer evaluates the command's own type annotations; the user's text must never get there
    assert not [source for source in seen if expression in source or "PWNED" in source]
    assert result.exit_code == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())  # nothing was created: nothing ran


@pytest.mark.parametrize(
    "expression, gate",
    [("log(x)", "log"), ("1/x", "recip"), ("sqrt(x)", "sqrt"), ("exp(1000*x)", "exp")],
)
def test_numerical_trouble_warns_naming_the_gate_and_exits_1(expression, gate):
    value = "0" if expression == "1/x" else ("1" if "exp" in expression else "-4")
    result = trace(expression, f"x={value}", "--format", "json")
    assert result.exit_code == 1
    assert f"({gate})" in result.stderr and "warning:" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["output"] in ("nan", "inf", "-inf") and doc["warnings"]
    rich = trace(expression, f"x={value}")
    assert rich.exit_code == 1 and "Traceback" not in rich.output


def test_large_expression_is_summarized_in_rich_and_complete_in_json():
    expression = "x" + "+x*0.5" * 200
    result = trace(expression, "x=1")
    assert result.exit_code == 0
    lines = [line.strip() for line in result.stdout.splitlines()]
    # 601 nodes, 30 shown at each end; 400 gates, 30 at each end: each note is one line
    assert "⋮ 541 more nodes (--format json lists all)" in lines
    assert "⋮ 340 more gates (--format json lists all)" in lines
    assert "Large graph" in result.stdout
    assert len(result.stdout.splitlines()) < 300  # unsummarized: over 1,000 rows
    doc = trace_json(expression, "x=1")
    assert len(doc["nodes"]) == 601 and doc["gradients"]["x"] == pytest.approx(101.0)


def test_too_large_input_is_refused_with_exit_2():
    result = trace("x+" * 600_000 + "x")
    assert result.exit_code == 2 and "too long" in result.stderr


def test_kink_is_marked_in_the_check_column_not_failed():
    doc = trace_json("relu(x)", "x=0")
    assert doc["checks"][0]["status"] == "kink"


def test_help_has_examples():
    result = runner.invoke(app, ["trace", "--help"])
    assert result.exit_code == 0 and "Examples" in result.stdout and "bpcli trace" in result.stdout


def _modules_after(code: str) -> set:
    probe = (
        code
        + "\nimport sys\nprint(','.join(m for m in ('numpy', 'yaml', 'pydantic') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines() or [""]
    return set(filter(None, lines[-1].split(",")))


def test_trace_command_imports_neither_numpy_nor_yaml():
    loaded = _modules_after(
        "import sys\nsys.argv = ['bpcli', 'trace', '(x+y)*z', '--format', 'json']\n"
        "from bpcli.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert not loaded & {"numpy", "yaml"}


def test_trace_library_and_renderers_import_no_numpy_yaml_or_pydantic():
    loaded = _modules_after(
        "from bpcli.expr.report import trace_expression\n"
        "from bpcli.render.trace_json import render_json\nfrom bpcli.render.trace_dot import render_dot\n"
        "import bpcli.render.trace_rich\nimport bpcli.commands.trace\n"
        "r = trace_expression('sigmoid(x)*y', [('x', '1')], expand=True)\nrender_json(r); render_dot(r)"
    )
    assert loaded == set()


def test_expression_can_come_from_a_file_or_stdin(tmp_path):
    source = tmp_path / "f.txt"
    source.write_text("(x+y)*z\n")
    doc = trace_json(f"@{source}", "x=-2", "y=5", "z=-4")
    assert doc["output"] == -12
    result = runner.invoke(
        app, ["trace", "-", "x=-2", "y=5", "z=-4", "--format", "json"], input="(x+y)*z"
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["gradients"] == {
        "x": -4,
        "y": -4,
        "z": 3,
    }
    missing = trace(f"@{tmp_path / 'none.txt'}")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_max_and_relu_rows_show_their_formulas_and_the_winner():
    out = trace("max(x,y)*relu(z)", "x=1", "y=2", "z=3").stdout
    assert "routes → y" in out and "[x won] = 0" in out and "[x won] = 1" in out
    assert "[x>0] = 1" in out


@pytest.mark.parametrize(
    "expression, assignments",
    [
        ("x*x*y + log(z) + 1/x + max(x, y, 2.5)", [("x", "3"), ("y", "2"), ("z", "-1")]),
        ("sigmoid(w*x+b) * 1e300 * 1e300", []),
        ("3", []),
        ("tanh(x)/0", [("x", "0")]),
    ],
)
def test_fast_json_writer_writes_exactly_the_reference_document(expression, assignments):
    from bpcli.expr.report import trace_expression
    from bpcli.render.trace_json import render_json, trace_document

    report = trace_expression(expression, assignments, expand=True)
    assert json.loads(render_json(report)) == json.loads(json.dumps(trace_document(report)))


NEURON_ARGS = ["1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]


@pytest.mark.parametrize("fmt", ["rich", "json"])
def test_a_literal_that_overflows_is_refused_before_anything_is_printed(fmt):
    result = trace("1e400*x", "x=1", "--format", fmt)
    assert result.exit_code == 2 and result.stdout == ""
    assert "1e400" in result.stderr and "too large" in result.stderr
    assert result.stderr.splitlines()[-1] == "  ^"  # the caret under column 0
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("width", [80, 100])
def test_the_sigmoid_neuron_fits_the_terminal_one_line_per_backward_row(width):
    result = runner.invoke(app, ["trace", *NEURON_ARGS], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    backward = result.stdout.split("Backward pass", 1)[1].split("Gate roles", 1)[0]
    assert "…" not in backward  # nothing truncated (the role once read `distribut…`)
    rows = {line.split()[0] + " " + line.split()[1]: line for line in backward.splitlines()
            if re.match(r" ?n\d+ ", line)}
    # the lecture's numbers: 1/x gets 1 and sends 1·(-1/1.37²) = -0.53; exp sends -0.53·0.37 = -0.20
    assert "-1/x² = -0.53" in rows["n13 1/x"] and "1×-0.53 = -0.53" in rows["n13 1/x"]
    assert "exp(x) = 0.37" in rows["n10 exp"] and "-0.53×0.37 = -0.20" in rows["n10 exp"]
    assert "flips" in rows["n9 *-1"] and "-0.20×-1 = 0.20" in rows["n9 *-1"]
    assert "distributes" in rows["n12 +1"] and "switches" in rows["n5 *"]
    assert "0.1966×-3 = -0.5898" in backward  # x1 gets 0.196612·(-3); 0.20×-3 would not be -0.59
    fork = runner.invoke(app, ["trace", "x*x*y", "x=3", "y=2"], env={"COLUMNS": "80"})
    assert "x += 6 → 12" in fork.stdout


def test_expand_labels_the_times_minus_one_gate_as_a_flip_and_prints_full_expressions():
    result = runner.invoke(
        app, ["trace", "sigmoid(w*x+b)", "w=2", "x=-1", "b=-3", "--expand"], env={"COLUMNS": "100"}
    )
    out = result.stdout
    backward = out.split("Backward pass", 1)[1]
    flip = next(line for line in backward.splitlines() if "*-1" in line)
    assert "flips" in flip and "switches" not in flip
    legend = out.split("Gate roles:", 1)[1]
    assert "*-1 flips" in " ".join(legend.split())
    forward = out.split("Forward pass", 1)[1].split("Backward pass", 1)[0]
    assert "1/(exp((w*x + b)*(-1)) + 1)" in forward  # not `1/n9`
    assert not re.search(r"\bn\d+ \+ 1", forward)
    fused = trace(*NEURON_ARGS).stdout.split("Backward pass", 1)[0]
    assert "1/(1 + exp(-(w0*x0 + w1*x1 + w2)))" in fused


def test_expression_from_stdin_or_file_is_stripped(tmp_path):
    result = runner.invoke(app, ["trace", "-", "--format", "json"], input="  x+y\n")
    assert result.exit_code == 0 and json.loads(result.stdout)["expression"] == "x+y"
    source = tmp_path / "e.txt"
    source.write_text("x*y\n\n")
    assert trace_json(f"@{source}")["expression"] == "x*y"


def test_non_ascii_names_say_what_names_may_contain():
    result = trace("Δ+1")
    assert result.exit_code == 2
    assert "ASCII letters, digits and _" in result.stderr and "unexpected" not in result.stderr


def test_a_gradient_through_an_infinite_local_gradient_is_said_to_be_undefined_not_just_nan():
    """-(sqrt(a*a)) is -|a|: at a = 0 sqrt's local gradient 1/(2√x) is inf and backprop gives
    inf × 0 = nan (torch too). The trace says the gradient is undefined there, in words."""
    note = "∂f/∂a is undefined at this point: gate n2 (sqrt) has local gradient inf at input 0"
    result = runner.invoke(app, ["trace", "-(sqrt(a*a))", "a=0", "--format", "json"])
    assert result.exit_code == 1, result.output  # the nan/inf check, as before
    doc = json.loads(result.stdout)
    assert doc["gradients"] == {"a": "nan"}
    assert [n for n in doc["notes"] if n.startswith(note)]
    rich = runner.invoke(app, ["trace", "-(sqrt(a*a))", "a=0"], env={"COLUMNS": "200"})
    assert note in rich.stdout
    fine = runner.invoke(app, ["trace", "-(sqrt(a*a))", "a=2", "--format", "json"])
    assert json.loads(fine.stdout)["gradients"] == {"a": -1.0} and json.loads(fine.stdout)["notes"] == []
