"""`bpcli sweep`'s search-space syntax, its errors (exit 2 with the place, before anything
runs), the report's arithmetic, and the optional dependency on Optuna."""

import math
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.errors import SpecError
from bpcli.sweep.report import TrialRow, border_warnings, narrower_ranges, position
from bpcli.sweep.space import SearchParam, parse_space, parse_sweep_arguments, validate_space

runner = CliRunner()


def test_each_space_form_and_plain_overrides():
    fixed, params = parse_sweep_arguments([
        "optimizer.lr=loguniform(1e-4,1e-1)", "regularization.strength=uniform(0, 0.01)",
        "model.0.units=int(50,200)", "train.batch_size=choice(16,32,64)", "loss=choice(svm,'softmax_cross_entropy')",
        "train.epochs=5", "model.1.formula=tanh(x)",
    ])
    assert fixed == ["train.epochs=5", "model.1.formula=tanh(x)"]  # a call of another name is a value
    by = {p.name: p for p in params}
    assert (by["optimizer.lr"].kind, by["optimizer.lr"].low, by["optimizer.lr"].high) == ("loguniform", 1e-4, 1e-1)
    assert by["optimizer.lr"].log and not by["regularization.strength"].log
    assert (by["regularization.strength"].low, by["regularization.strength"].high) == (0.0, 0.01)
    assert (by["model.0.units"].low, by["model.0.units"].high) == (50, 200)
    assert by["train.batch_size"].choices == (16, 32, 64)
    assert by["loss"].choices == ("svm", "softmax_cross_entropy")


@pytest.mark.parametrize("token, expected", [
    ("optimizer.lr=logunifrom(1e-4,1)", "did you mean 'loguniform'"),
    ("optimizer.lr=loguniform(0,1)", "0 < low"),
    ("optimizer.lr=loguniform(-1,1)", "0 < low"),
    ("optimizer.lr=uniform(1,0.5)", "low < high"),
    ("optimizer.lr=uniform(1,1)", "low < high"),
    ("optimizer.lr=uniform(1)", "got 1 argument"),
    ("optimizer.lr=uniform(1,2,3)", "got 3 arguments"),
    ("optimizer.lr=uniform(a,2)", "low is 'a'"),
    ("optimizer.lr=uniform(1,.inf)", "not a finite number"),
    ("model.0.units=int(1.5,4)", "two integers"),
    ("train.batch_size=choice()", "at least one value"),
    ("train.batch_size=choice(16,16)", "twice"),
    ("train.batch_size=choice(16,,32)", "empty argument"),
    ("train.batch_size=choice([1,2],3)", "cannot read"),
])
def test_malformed_spaces_name_the_token(token, expected):
    with pytest.raises(SpecError) as err:
        parse_sweep_arguments([token])
    text = err.value.render()
    assert f"<override {token}>" in text and expected in text


def test_every_problem_reported_at_once_and_repeats_refused():
    with pytest.raises(SpecError) as err:
        parse_sweep_arguments(["a=uniform(2,1)", "b=int(1.5,3)", "a=3", "novalue"])
    assert len(err.value.problems) == 4
    assert "given twice" in err.value.render()


@pytest.mark.parametrize("tokens, expected", [
    (["optimizer.lrr=loguniform(1e-4,1e-1)"], "unknown option 'lrr' for optimizer 'momentum' (did you mean 'lr'?)"),
    (["optimizer.lr=uniform(0,1)"], "must be positive, got 0.0 (at the low end of uniform(0,1))"),
    (["model.0.units=int(0,10)"], "must be at least 1, got 0 (at the low end of int(0,10))"),
    (["data.val_fraction=uniform(0.1,1.5)"], "(at the high end of uniform(0.1,1.5))"),
    (["regularization.type=choice(l2,l3)"], "unknown regularizer 'l3'"),
])
def test_spaces_validated_like_overrides_at_their_ends(tokens, expected):
    fixed, params = parse_sweep_arguments(tokens)
    with pytest.raises(SpecError) as err:
        validate_space("spiral", fixed, params)
    text = err.value.render()
    assert expected in text and f"<override {tokens[0]}>" in text


def test_a_valid_space_gives_the_spec_at_its_first_values():
    fixed, params = parse_sweep_arguments(["optimizer.lr=loguniform(1e-3,1e-1)", "train.epochs=7"])
    spec = validate_space("spiral", fixed, params)
    assert spec.optimizer["lr"] == pytest.approx(1e-3) and spec.train.epochs == 7


def _cli(*args):
    return runner.invoke(app, ["sweep", *args])


def test_cli_bad_space_exits_2_before_anything_runs(tmp_path):
    out = tmp_path / "never"
    r = _cli("spiral", "data.val_fraction=0.2", "optimizer.lr=loguniform(0,1)", "--out", str(out))
    assert r.exit_code == 2 and "<override optimizer.lr=loguniform(0,1)>" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_cli_spec_without_validation_split_says_how_to_add_one(tmp_path):
    r = _cli("spiral", "optimizer.lr=loguniform(1e-3,1)", "--out", str(tmp_path / "s"))
    assert r.exit_code == 2 and "data.val_fraction=0.2" in r.output


@pytest.mark.parametrize("args, expected", [
    (["spiral", "data.val_fraction=0.2"], "nothing to search"),
    (["spiral", "data.val_fraction=0.2", "optimizer.lr=uniform(0.1,1)", "--metric", "val_acc"], "unknown --metric"),
    (["spiral", "data.val_fraction=0.2", "optimizer.lr=uniform(0.1,1)", "--sampler", "grid"], "unknown --sampler"),
    (["spiral", "data.val_fraction=0.2", "optimizer.lr=uniform(0.1,1)", "--workers", "0"], "--workers"),
    (["spiral", "data.val_fraction=0.2", "optimizer.lr=uniform(0.1,1)", "--storage", "x.journal"], "--study"),
    (["--resume", "/nonexistent/sweep"], "not found"),
])
def test_cli_usage_errors(args, expected):
    r = _cli(*args)
    assert r.exit_code == 2 and expected in r.output


def test_sweep_without_optuna_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna -> ImportError
    r = _cli("spiral", "data.val_fraction=0.2", "optimizer.lr=uniform(0.1,1)", "--out", str(tmp_path / "s"))
    assert r.exit_code == 2 and "pip install 'bpcli[sweep]'" in r.output


@pytest.mark.parametrize("argv", [
    ["train", "spiral", "train.epochs=1", "--quiet", "--out", "{tmp}/run"],
    ["trace", "(x+y)*z", "x=-2", "y=5", "z=-4"],
    ["gradcheck", "spiral"],
])
def test_train_trace_gradcheck_never_import_optuna(argv, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = (
        "import sys\nfrom bpcli.cli import main\nsys.argv = ['bpcli'] + sys.argv[1:]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('optuna', 'sqlalchemy', 'bpcli') and "
        "(m.startswith('optuna') or m.startswith('sqlalchemy') or m.startswith('bpcli.sweep'))]\n"
        "assert not bad, bad\n"
    )
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def _p(kind, low, high, name="optimizer.lr"):
    return SearchParam(name, kind, low=low, high=high, token=f"{name}={kind}({low},{high})")


def _row(n, value, **params):
    return TrialRow(n, "COMPLETE", {k.replace("_", "."): v for k, v in params.items()}, value, None)


def test_position_is_linear_or_logarithmic():
    assert position(_p("uniform", 0.0, 10.0), 2.5) == pytest.approx(0.25)
    assert position(_p("loguniform", 1e-4, 1e-0), 1e-2) == pytest.approx(0.5)


def test_border_warning_only_near_an_end():
    p = _p("loguniform", 1e-4, 1e-1)
    near_top = border_warnings([p], _row(0, 0.9, optimizer_lr=0.08))  # log position 0.97
    inside = border_warnings([p], _row(0, 0.9, optimizer_lr=3e-3))   # log position 0.49
    near_low = border_warnings([p], _row(0, 0.9, optimizer_lr=1.3e-4))
    assert len(near_top) == 1 and "high end" in near_top[0] and "widen" in near_top[0]
    assert inside == []
    assert len(near_low) == 1 and "low end" in near_low[0]


def test_narrower_range_spans_the_best_fifth_padded_by_a_tenth():
    p = _p("loguniform", 1e-4, 1.0)
    # 10 trials: values 0..9 at lr 10^-3.5 ... ; the best 3 (a fifth, at least 3) are at 1e-3, 1e-2.5, 1e-2
    lrs = [10 ** -3.9, 10 ** -3.8, 10 ** -3.7, 10 ** -3.6, 10 ** -3.5, 10 ** -3.4, 10 ** -3.3, 10 ** -2.0, 10 ** -2.5, 10 ** -3.0]
    rows = [_row(i, float(i), optimizer_lr=lr) for i, lr in enumerate(lrs)]
    (token,) = narrower_ranges([p], rows, "maximize")
    lo, hi = map(float, token[token.index("(") + 1 : -1].split(","))
    # log10 range [-4, 0] (width 4), pad 0.4: [-3.0 - 0.4, -2.0 + 0.4]
    assert math.log10(lo) == pytest.approx(-3.4, abs=0.02) and math.log10(hi) == pytest.approx(-1.6, abs=0.02)


def test_narrower_choice_keeps_the_values_of_the_best_trials():
    p = SearchParam("model.0.units", "choice", choices=(50, 100, 200), token="model.0.units=choice(50,100,200)")
    rows = [_row(0, 0.1, model_0_units=50), _row(1, 0.9, model_0_units=200), _row(2, 0.8, model_0_units=100),
            _row(3, 0.7, model_0_units=200), _row(4, 0.2, model_0_units=50)]
    assert narrower_ranges([p], rows, "maximize") == ["model.0.units=choice(100,200)"]


def test_parse_space_plain_values_pass_through():
    assert parse_space("x", "0.1") is None
    assert parse_space("x", "[1, 2]") is None
    assert isinstance(parse_space("x", "choice(a, b)"), SearchParam)


def test_storage_password_never_written_to_the_sweep_directory(tmp_path):
    from bpcli.sweep.config import SweepConfig
    from bpcli.sweep.storage import redact

    assert redact("postgresql://me:secret@db.example:5432/sweeps") == "postgresql://me:***@db.example:5432/sweeps"
    assert redact("postgresql://me@db/sweeps") == "postgresql://me@db/sweeps"
    cfg = SweepConfig(spec="spiral", tokens=["optimizer.lr=uniform(0.1,1)"], metric="val_accuracy", n_trials=3,
                      study="s", storage="postgresql://me:secret@db/sweeps")
    cfg.save(tmp_path)
    text = (tmp_path / "sweep.json").read_text()
    assert "secret" not in text and "me:***@db" in text
    assert SweepConfig.load(tmp_path).storage is None  # --resume asks for --storage again


def test_terminal_scatter_puts_each_trial_where_its_values_are(tmp_path):
    from bpcli.render.sweep import sweep_scatter
    from bpcli.sweep.config import SweepConfig
    from bpcli.sweep.report import SweepReport, best_rows

    tokens = ["optimizer.lr=loguniform(1e-3,1)", "regularization.strength=loguniform(1e-5,1e-1)"]
    cfg = SweepConfig(spec="spiral", tokens=tokens, metric="val_accuracy", n_trials=3, study="s")
    _, params = cfg.split()
    rows = [TrialRow(0, "COMPLETE", {"optimizer.lr": 1e-3, "regularization.strength": 1e-1}, 0.9, None),
            TrialRow(1, "COMPLETE", {"optimizer.lr": 1.0, "regularization.strength": 1e-5}, 0.1, None),
            TrialRow(2, "COMPLETE", {"optimizer.lr": 10 ** -1.5, "regularization.strength": 1e-3}, 0.5, None)]
    report = SweepReport(cfg, tmp_path, params, rows, best_rows(rows, "maximize"))
    lines = sweep_scatter(report, width=21, height=11, color=False).plain.splitlines()
    grid = [line.split("|", 1)[1] for line in lines[1:12]]
    assert grid[0][0] == "*"            # best: lowest lr (left), highest strength (top)
    assert grid[10][20] == "0"          # worst: highest lr (right), lowest strength (bottom)
    assert grid[5][10] == "5"           # the middle of both log ranges, halfway in accuracy
    assert lines[1].split("|")[0].strip() == "0.1" and lines[11].split("|")[0].strip() == "1e-05"


def test_narrower_linear_range_stays_above_a_non_negative_low_end():
    p = _p("uniform", 0.0, 1.0, name="regularization.strength")
    rows = [_row(i, v, regularization_strength=x) for i, (v, x) in enumerate([(0.9, 0.01), (0.8, 0.05), (0.7, 0.03), (0.1, 0.9)])]
    (token,) = narrower_ranges([p], rows, "maximize")
    assert token == "regularization.strength=uniform(0,0.15)"  # [0.01 - 0.1, 0.05 + 0.1], not below 0
