"""The numerical core of gradcheck: differences, relative errors, statuses, kinks, hints, sweep."""

import numpy as np
import pytest

from bpcli.gradcheck.compare import OK_MAX, judge, relative_errors, status_of
from bpcli.gradcheck.kinks import KinkWatch
from bpcli.gradcheck.numeric import (
    direction_difference, entry_difference, random_direction, sampled_indices,
)
from bpcli.gradcheck.objective import Objective
from bpcli.gradcheck.runner import choose_mode, run_gradcheck
from bpcli.gradcheck.sweep import h_sweep


def function_objective(f, grad, theta, kinks=None, label="f"):
    params = {"theta": np.array(theta, dtype=np.float64)}
    return Objective(label, params, value=lambda: f(params["theta"]),
                     gradients=lambda: {"theta": grad(params["theta"])},
                     kink_states=(lambda: kinks(params["theta"])) if kinks else None)


def test_centered_difference_is_exact_for_a_quadratic_and_restores_the_entry():
    a = np.array([1.0, -3.0, 0.5])
    obj = function_objective(lambda t: float(np.sum(a * t**2)), lambda t: 2 * a * t, [0.3, 1.2, -2.0])
    for i in range(3):
        d = entry_difference(obj, "theta", (i,), 1e-3)
        # (a(t+h)² − a(t−h)²)/2h = 2at exactly: no truncation error for a quadratic
        assert d.numeric == pytest.approx(2 * a[i] * obj.params["theta"][i], rel=1e-9)
    assert obj.params["theta"].tolist() == [0.3, 1.2, -2.0]


def test_directional_difference_matches_the_directional_derivative():
    obj = function_objective(lambda t: float(np.sum(np.sin(t))), np.cos, [0.1, 0.7, -1.3, 2.0])
    v = random_direction((4,), np.random.default_rng(3))
    assert np.linalg.norm(v) == pytest.approx(1.0)
    d = direction_difference(obj, {"theta": v}, 1e-5)
    assert d.numeric == pytest.approx(float(np.cos([0.1, 0.7, -1.3, 2.0]) @ v), rel=1e-8)
    assert obj.params["theta"].tolist() == [0.1, 0.7, -1.3, 2.0]


def test_sampled_indices_are_distinct_and_cover_small_arrays():
    rng = np.random.default_rng(0)
    idx = sampled_indices((10, 20), 15, rng)
    assert len(set(idx)) == 15 and all(0 <= i < 10 and 0 <= j < 20 for i, j in idx)
    assert len(sampled_indices((3,), 15, rng)) == 3


def test_relative_error_and_status_thresholds():
    rel = relative_errors([1.0, 0.0, 2.0, 1e-30], [1.0 + 1e-8, 0.0, -2.0, 0.0], floor=1e-20)
    assert rel[0] == pytest.approx(1e-8 / (1 + 1e-8))
    assert rel[1] == 0.0  # both zero: the floor keeps the denominator positive
    assert rel[2] == pytest.approx(2.0)  # opposite signs: |a − n| / max = 2
    assert rel[3] == pytest.approx(1e-10)  # 1e-30 / floor 1e-20
    assert [status_of(e) for e in (1e-8, 1e-7, 5e-6, 1e-4, 2e-4, np.nan)] == [
        "ok", "ok", "warn", "warn", "fail", "fail"]


def test_judge_reports_the_worst_entry_and_excludes_kinks_and_small_ones():
    labels = [(0,), (1,), (2,), (3,)]
    a = np.array([1.0, 2.0, 3.0, 1e-15])
    n = np.array([1.0, 2.0 + 2e-6, 5.0, 0.0])
    check = judge("W", (4,), labels, a, n, kinked=np.array([False, False, True, False]), noise=1e-13)
    assert check.status == "warn" and check.worst_index == (1,)
    assert check.analytic == 2.0 and check.max_rel_error == pytest.approx(1e-6, rel=1e-3)
    assert check.kinks == 1 and check.small == 1
    only_kink = judge("W", (1,), [(0,)], np.array([1.0]), np.array([3.0]), np.array([True]), 1e-13)
    assert only_kink.status == "kink" and only_kink.passed
    tiny = judge("W", (1,), [(0,)], np.array([1e-14]), np.array([-1e-14]), np.array([False]), 1e-13)
    assert tiny.status == "small" and tiny.passed


def test_a_smooth_function_passes_in_float64_with_error_below_1e_7():
    obj = function_objective(lambda t: float(np.sum(np.tanh(t) * np.exp(0.3 * t))),
                             lambda t: (1 - np.tanh(t) ** 2) * np.exp(0.3 * t) + 0.3 * np.tanh(t) * np.exp(0.3 * t),
                             np.linspace(-2, 2, 7))
    report = run_gradcheck([obj], mode="full")
    assert report.passed and report.checks[0].status == "ok"
    assert report.checks[0].max_rel_error <= OK_MAX


def test_a_wrong_gradient_fails_and_names_the_parameter():
    obj = function_objective(lambda t: float(np.sum(t**3)), lambda t: 3 * t**2 + 1e-3, [0.5, 1.0, 2.0])
    report = run_gradcheck([obj], mode="full")
    assert not report.passed and report.checks[0].status == "fail"
    assert "theta" in report.verdict()


def test_a_difference_across_a_kink_is_reported_with_the_sides_not_failed():
    # |t| at t = 4e-6: θ−h = −6e-6 is on the other side, the centered difference is 0.4, not 1.
    obj = function_objective(lambda t: float(np.sum(np.abs(t))), np.sign, [4e-6, 1.0],
                             kinks=lambda t: {"abs": t > 0})
    report = run_gradcheck([obj], mode="full", h=1e-5)
    check = report.checks[0]
    assert report.passed and check.status == "kink" and check.kinks == 1
    index, crossing = check.kink_details[0]
    assert index == (0,)
    side = crossing.sites["abs"][0]
    assert (bool(side.at), bool(side.plus), bool(side.minus)) == (True, True, False)


def test_kink_watch_sees_no_crossing_when_nothing_moves():
    state = {"relu": np.array([True, False])}
    watch = KinkWatch(lambda: state)
    watch.set_base()
    assert watch.crossing(watch.snapshot(), watch.snapshot()) is None


def test_h_sweep_shows_truncation_at_large_h_and_round_off_at_tiny_h():
    theta = np.array(0.7)
    sweep = h_sweep("theta", (), float(np.exp(0.7)),
                    lambda h: (np.exp(0.7 + h) - np.exp(0.7 - h)) / (2 * h))
    by_h = {p.h: p.rel_error for p in sweep.points}
    assert len(by_h) == 10 and max(by_h) == pytest.approx(0.1) and min(by_h) == pytest.approx(1e-10)
    # truncation: (e^{x+h} − e^{x−h})/2h = e^x·sinh(h)/h ≈ e^x (1 + h²/6)
    assert by_h[0.1] == pytest.approx(0.1**2 / 6, rel=1e-2)
    assert by_h[1e-5] < 1e-9 and by_h[1e-10] > 1e-8  # round-off ~ ε/h wins at tiny h
    assert sweep.best().h in (1e-4, 1e-5, 1e-6)
    assert theta == 0.7


def test_auto_mode_picks_by_size():
    assert choose_mode(100) == "full"
    assert choose_mode(50_000) == "sparse"
    assert choose_mode(535_818) == "directional"


def test_randomness_is_held_fixed_by_reseeding():
    # a "dropout" objective whose value reseeds its rng: equal θ gives equal loss
    params = {"w": np.array([0.3, -0.2, 0.9])}

    def value():
        mask = np.random.default_rng(7).random(3) < 0.5
        return float(np.sum(mask * params["w"] ** 2))

    mask = np.random.default_rng(7).random(3) < 0.5
    obj = Objective("dropout", params, value, gradients=lambda: {"w": 2 * mask * params["w"]})
    assert run_gradcheck([obj], mode="full").passed


# ---- hints on synthetic gradients (numeric = the true gradient g) ---------------------------

from bpcli.gradcheck import hints as hinting  # noqa: E402

G = np.array([[0.5, -1.25, 2.0], [3.0, 0.75, -0.4], [1.1, -2.2, 0.3]])
ALL = [(i, j) for i in range(3) for j in range(3)]
AT = np.array([G[i] for i in ALL])


def hints_for(analytic, batch=4, doubled=None):
    analytic = np.asarray(analytic)
    a_at = np.array([analytic[i] for i in ALL])
    return " ".join(hinting.value_hints("W", a_at, AT, analytic, ALL, batch, 1e-9, doubled))


def test_hints_name_a_mean_over_the_batch_a_zero_gradient_and_a_square_transpose():
    assert "averaged over the batch" in hints_for(G / 4)
    assert "summed over the batch where the loss averages" in hints_for(G * 4)
    assert "never sets this gradient" in hints_for(np.zeros_like(G))
    assert "transpose of the analytic gradient matches" in hints_for(G.T)
    assert "factor 2 too many" in hints_for(2 * G)
    assert "≈ 3 at every entry" in hints_for(3 * G)
    assert hints_for(G + np.eye(3)) == ""  # no pattern: no guess


def test_the_upstream_hint_needs_a_gradient_that_ignores_dout():
    wrong = G + 1.0
    assert "forgot to multiply by dout" in hints_for(wrong, doubled=wrong.copy())
    assert "forgot" not in hints_for(wrong, doubled=2 * wrong)


def test_shape_hints_transpose_rows_per_example_and_reshape():
    rows = [(j,) for j in range(3)]
    bias_true = np.array([1.0, -2.0, 0.5])
    per_example = np.tile(bias_true / 4, (4, 1))  # sums to the true gradient
    assert "not summed over the batch" in hinting.shape_hint("b", per_example, (3,), rows, bias_true, 4, 1e-9)
    W = np.arange(6.0).reshape(2, 3) + 1
    idx = [(i, j) for i in range(2) for j in range(3)]
    numeric = np.array([W[i] for i in idx])
    assert "its transpose matches" in hinting.shape_hint("W", W.T, (2, 3), idx, numeric, None, 1e-9)
    assert "reshaped" in hinting.shape_hint("W", W.reshape(6), (2, 3), idx, numeric, None, 1e-9)


def test_a_few_wrong_entries_suggest_an_undeclared_kink():
    a = G.copy()
    a[1, 1] = 5.0  # one entry off, the rest right: a kink the layer did not declare, or a local slip
    assert "only 1 of 9 entries disagree" in hints_for(a)
