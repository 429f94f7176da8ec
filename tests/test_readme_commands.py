"""The README opens with the two commands a newcomer runs, and CI runs the very same test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [block.strip() for block in blocks[:2]]


def test_readme_starts_with_the_train_and_the_test_command():
    train, test = _readme_commands()
    assert "python3 -m venv .venv" in train and train.endswith("bpcli train")
    assert "python3 -m venv .venv" in test and "'.[test]'" in test
    assert test.endswith(".venv/bin/python -m pytest")


def test_ci_runs_the_readme_test_command_with_datasets_hidden():
    _, test = _readme_commands()
    pytest_command = test.split("&&")[-1].strip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(rf"^{re.escape(pytest_command)}$", ci, re.M), pytest_command
    assert "pip install --quiet '.[test]'" in ci
    # the installed datasets are hidden before the tests run, and exit 5 (no tests) fails CI
    assert ci.index("export BPCLI_DATASETS") < ci.index(pytest_command)
    assert '"$status" -eq 5' in ci
