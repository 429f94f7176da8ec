"""An error a dataset raises while it loads (options that do not fit, more memory than allowed,
a missing file, a dataset that is not installed) names the spec's file:line:col of the option it
is about, as every other spec problem does: real `bpcli` runs, exit 2, one line, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = "model: [dense: 3]\n"

CASES = {
    # name: (the data section, the option blamed, its line:col, words of the message)
    "classes below 2": ("data:\n  type: spiral\n  classes: 1\n", "classes", "3:12", "classes must be >= 2"),
    "more memory than allowed": ("data:\n  type: spiral\n  points_per_class: 100000000\n  classes: 100000\n",
                                 "points_per_class", "3:21", "more than the memory bpcli may use"),
    "a missing CSV file": ("data:\n  type: csv\n  path: nothere.csv\n", "path", "3:9", "CSV file not found: nothere.csv"),
    "a dataset not installed": ("data: {type: fashion-mnist}\n", "type", "1:14", "fashion-mnist is not installed"),
    "a missing IDX file": ("data:\n  type: idx\n  images: imgs.idx\n  labels: labels.idx\n", "images", "3:11", "imgs.idx"),
}


def bpcli(args, cwd, datasets):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BPCLI_DATASETS": str(datasets)}
    env.pop("BPCLI_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "bpcli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", CASES)
def test_train_names_the_specs_place_of_the_data_option(case, tmp_path):
    section, option, place, words = CASES[case]
    (tmp_path / "net.yaml").write_text(section + MODEL)
    done = bpcli(["train", "net.yaml", "--quiet", "--out", tmp_path / "run"], tmp_path, tmp_path / "no-datasets")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: net.yaml:{place}: data.{option}: "), done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "run").exists()  # nothing written before the data was checked


def test_show_names_the_place_too(tmp_path):
    (tmp_path / "net.yaml").write_text(CASES["classes below 2"][0] + MODEL)
    done = bpcli(["show", "net.yaml"], tmp_path, tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: net.yaml:3:12: data.classes: "), done.stderr


def test_an_option_set_by_an_override_is_named_at_the_override(tmp_path):
    (tmp_path / "net.yaml").write_text("data: {type: spiral}\n" + MODEL)
    done = bpcli(["train", "net.yaml", "data.classes=1", "--quiet", "--out", tmp_path / "run"], tmp_path, tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: <override data.classes=1>: data.classes: spiral: classes must be >= 2"), done.stderr


def test_show_names_the_file_and_row_of_a_label_the_model_has_no_output_for(tmp_path):
    (tmp_path / "pts.csv").write_text("x1,x2,label\n0.3,1,0\n0.1,0.2,7\n")
    (tmp_path / "net.yaml").write_text("data: {type: csv, path: pts.csv}\nmodel: [dense: 3]\n")
    done = bpcli(["show", "net.yaml"], tmp_path, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "pts.csv: row 3: label 7 is out of range" in done.stderr, done.stderr
