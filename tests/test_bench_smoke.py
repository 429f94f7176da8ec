"""The benchmark's bpcli side in its tiny mode: it runs, and its JSON has the promised structure.

No assertion on time. The reference values are independent: the step FLOPs from the layer
sizes, and the initial loss of the hand-written NumPy MLP on the same weights and batch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # one subprocess of a few seconds (more on a busy machine)

REPO = Path(__file__).resolve().parent.parent
CASE_NAMES = ["spiral", "digits", "mnist", "wide", "cnn", "convnet3", "conv4"]
MLP_SIZES = {"spiral": [2, 100, 3], "digits": [64, 128, 10], "mnist": [784, 512, 256, 10], "wide": [1024, 1024, 10]}


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--smoke", "--only", "steps", "--only", "gradcheck", "--json", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_every_case_is_reported_with_a_status_per_side(smoke_results):
    rows = {row["name"]: row for row in smoke_results["steps"]}
    assert list(rows) == CASE_NAMES
    for name, row in rows.items():
        assert set(row["sides"]) == {"bpcli", "torch", "numpy"}
        assert row["sides"]["torch"]["status"] == "skipped"  # --smoke never imports torch
        assert row["ratio_bpcli_torch"] is None and row["meets_target"] is None
        assert row["sides"]["bpcli"]["status"] == "ok", row["sides"]["bpcli"]
        for side in row["sides"].values():
            assert side["status"] in ("ok", "skipped", "n/a", "not available yet", "error")
            if side["status"] == "ok":
                assert side["n"] >= 1 and 0 < side["p10_s"] <= side["median_s"] <= side["p90_s"]
    assert rows["cnn"]["sides"]["numpy"]["status"] == "n/a"
    assert rows["mnist"]["target_ratio"] == 1.0 and rows["spiral"]["target_ratio"] == 0.6
    assert rows["convnet3"]["target_ratio"] == 1.5 and rows["conv4"]["target_ratio"] == 1.5


def test_convnet_flops_count_the_convolutions_as_gemms(smoke_results):
    """conv7x7(32) pad 3 on 3x32x32 keeps 32x32; its GEMM is (32*32) x 32 x (3*7*7) per example."""
    rows = {row["name"]: row for row in smoke_results["steps"]}
    per_example = 2 * 32 * 32 * 32 * 3 * 49 + 2 * (32 * 16 * 16) * 100 + 2 * 100 * 10
    assert rows["convnet3"]["flops_per_step"] == pytest.approx(3 * per_example * rows["convnet3"]["batch"])


def test_step_flops_follow_the_issue_count(smoke_results):
    """3 GEMMs per dense layer (forward, dW, dX), 2*M*N*K each."""
    for row in smoke_results["steps"]:
        sizes = MLP_SIZES.get(row["name"])
        if sizes is None:
            continue
        gemm = sum(2 * row["batch"] * a * b for a, b in zip(sizes, sizes[1:]))
        assert row["flops_per_step"] == pytest.approx(3 * gemm)


def test_bpcli_model_is_the_numpy_reference_model(smoke_results):
    """Same weights and batch: bpcli's initial loss equals the hand-written NumPy MLP's."""
    checked = 0
    for row in smoke_results["steps"]:
        bp, ref = row["sides"]["bpcli"], row["sides"]["numpy"]
        if bp["status"] == "ok" and ref["status"] == "ok":
            assert bp["initial_loss"] == pytest.approx(ref["initial_loss"], rel=1e-4)
            checked += 1
    assert checked == 4  # the four MLPs


def test_gradcheck_section_reports_every_mode(smoke_results):
    gc = smoke_results["gradcheck"]
    assert "note" not in gc, gc.get("note")
    modes = {row["mode"]: row for row in gc["modes"]}
    assert list(modes) == ["directional", "sparse", "full"]
    assert modes["directional"]["passed"] is True and modes["directional"]["seconds"] > 0
    assert gc["entries_total"] == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10 + 4 * 784
