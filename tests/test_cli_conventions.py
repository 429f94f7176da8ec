"""The package, the CLI conventions and CI wiring."""

import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import bpcli
from bpcli.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_version_flag_prints_the_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"bpcli {bpcli.__version__}"


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "bpcli", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("bpcli ")


def test_unknown_command_is_a_usage_error():
    result = runner.invoke(app, ["frobnicate"])
    assert result.exit_code == 2


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_same_tests():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    train_cmd, test_cmd = blocks[0].strip(), blocks[1].strip()
    assert train_cmd.endswith("bpcli train")
    pytest_part = test_cmd.split("&&")[-1].strip()
    assert pytest_part == ".venv/bin/python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\n" + pytest_part + "\n" in ci


def test_user_errors_are_one_prefixed_message_with_exit_2_and_no_traceback():
    result = runner.invoke(app, ["trace", "x", "x"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: expected NAME=VALUE")
    assert "Traceback" not in result.output


def test_an_internal_bug_is_reported_without_a_traceback(monkeypatch, capsys):
    import pytest

    from bpcli import cli

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cli, "app", broken)
    monkeypatch.delenv("BPCLI_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: boom" in err and "Traceback" not in err
