"""`bpcli gradcheck`'s plain output: at most 100 columns, notes wrapped at words with an indent."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpcli.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = str(FIXTURES / "broken_layers.py")
runner = CliRunner()


PLAIN_CASES = [
    ["spiral", "--h-sweep"],
    ["spiral", "--split", "--mode", "directional"],
    ["--layer", "conv2d"],
    ["max(x, y) + abs(z)", "x=1", "y=1", "z=0"],
    ["exp(x)", "x=1000"],
    ["--layer", f"{BROKEN}:TransposedAffine"],
    ["--layer", f"{BROKEN}:AccumulatingShift"],
]
HEADS = ("gradcheck ", "at ", "PASSED", "FAILED", "h sweep", "expression ", "layer ", "spiral")


@pytest.mark.parametrize("args", PLAIN_CASES)
def test_plain_output_fits_100_columns_and_wraps_notes_at_words(args):
    result = runner.invoke(app, ["gradcheck", *args], env={"COLUMNS": "100"})
    lines = result.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 100, max(lines, key=len)
    for line in lines:  # a continuation of a note is indented, never flush left
        assert not line or line[0] == " " or line.startswith(HEADS), line


def test_the_kink_note_says_how_kinks_are_judged():
    result = runner.invoke(app, ["gradcheck", "spiral"], env={"COLUMNS": "100"})
    assert "judged against the one-sided derivatives on either side" in " ".join(result.stdout.split())
