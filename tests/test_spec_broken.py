"""The broken-spec catalogue: every file in tests/broken_specs/ must fail `bpcli show` with
exit 2, no traceback, and each expected problem at its `file:line` (or `<override ...>`).

Each case states what it expects in header comments:
    # override: NAME=VALUE          (optional, passed on the command line)
    # expect: LINE message-fragment   or   # expect: <override NAME=VALUE> message-fragment
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpcli.cli import app

CATALOGUE = Path(__file__).parent / "broken_specs"
CASES = sorted(CATALOGUE.glob("*.yaml"))
runner = CliRunner()


def _header(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    overrides, expects = [], []
    for line in path.read_text().splitlines():
        if m := re.match(r"# override: (\S+)$", line):
            overrides.append(m.group(1))
        elif m := re.match(r"# expect: (<override [^>]*>|\d+) (.+)$", line):
            expects.append((m.group(1), m.group(2)))
    return overrides, expects


def test_the_catalogue_has_at_least_25_cases():
    assert len(CASES) >= 25
    assert all(_header(case)[1] for case in CASES), "every case states what it expects"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_spec_exits_2_with_the_problem_at_its_line(case: Path):
    overrides, expects = _header(case)
    result = runner.invoke(app, ["show", str(case), *overrides])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    for where, fragment in expects:
        prefix = f"{where}:" if where.startswith("<") else f"{case}:{where}:"
        matching = [ln for ln in lines if ln.startswith("error: " + prefix)]
        assert matching, f"no problem reported at {prefix}\n{result.stderr}"
        assert any(fragment in ln for ln in matching), f"{fragment!r} not at {prefix}\n{result.stderr}"


def test_every_problem_is_reported_at_once_with_line_and_column():
    case = CATALOGUE / "several-problems-at-once.yaml"
    result = runner.invoke(app, ["show", str(case)])
    assert result.exit_code == 2
    assert re.search(rf"^error: {re.escape(str(case))}:4:5: model\.0\.type: unknown layer 'rellu'", result.stderr, re.M)
    assert re.search(rf"^error: {re.escape(str(case))}:6:11: train\.epochs: must be at least 1, got 0$", result.stderr, re.M)
