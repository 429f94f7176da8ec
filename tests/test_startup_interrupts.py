"""Ctrl-C while `bpcli` starts, through the console script pip writes (`from bpcli.entry import
main; sys.exit(main())`): exit 130 and one line, never a traceback, also when the interrupt comes
out wrapped in another error (a Ctrl-C inside a class creation is "RuntimeError: Error calling
__set_name__") or when Typer turns it into its silent Exit(130)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ONE_LINE = "interrupted; nothing was saved"

# what pip's generated `bpcli` script does
CONSOLE_SCRIPT = "import sys\nfrom bpcli.entry import main\nsys.exit(main())\n"

# a real SIGINT while a class is created during the imports (the signal handler's
# KeyboardInterrupt then reaches Python wrapped in a RuntimeError)
SIGINT_IN_A_CLASS_CREATION = """\
import builtins, os, signal, sys
real_import = builtins.__import__

def importing(name, *args, **kwargs):
    if name == "bpcli.cli":
        builtins.__import__ = real_import

        class Field:
            def __set_name__(self, owner, attr):
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(1000):
                    pass

        class Checkpoint:
            x = Field()
    return real_import(name, *args, **kwargs)

builtins.__import__ = importing
"""

# a real SIGINT while Typer parses the command line
SIGINT_WHILE_PARSING = """\
import os, signal
import typer.core

def make_context(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(1000):
        pass

typer.core.TyperGroup.make_context = make_context
"""


def run_script(prelude: str, args, env=None):
    code = prelude + CONSOLE_SCRIPT
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    env.pop("BPCLI_DEBUG", None)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_one_interrupted_line(done):
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert done.stderr.strip() == ONE_LINE, done.stderr
    assert done.stdout == ""


def test_ctrl_c_during_the_command_lines_imports_exits_130_with_one_line():
    done = run_script("", ["show", "spiral"], env={"BPCLI_KILL_AT": "startup:imports", "BPCLI_KILL_WITH": "INT"})
    assert_one_interrupted_line(done)


def test_ctrl_c_inside_a_class_creation_at_import_is_an_interrupt_not_an_internal_error():
    done = run_script(SIGINT_IN_A_CLASS_CREATION, ["show", "spiral"])
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert_one_interrupted_line(done)


def test_ctrl_c_while_typer_parses_the_command_line_says_so():
    done = run_script(SIGINT_WHILE_PARSING, ["show", "spiral"])
    assert_one_interrupted_line(done)


def test_the_entry_module_imports_nothing_before_main_runs():
    probe = ("import sys\nbefore = set(sys.modules)\nimport bpcli.entry\n"
             "print(sorted(m for m in set(sys.modules) - before if m != 'bpcli.entry'))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['bpcli']"


def test_the_console_script_still_runs_a_command():
    done = run_script("", ["trace", "x*y", "x=2", "y=3", "--format", "json"])
    assert done.returncode == 0, done.stderr
    import json

    assert json.loads(done.stdout)["gradients"] == {"x": 3.0, "y": 2.0}


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.03, 0.08, 0.15, 0.3])
def test_ctrl_c_at_a_moment_of_start_up_through_the_console_script(tmp_path, delay):
    """A real SIGINT at a moment of start-up: 130 and the one line once bpcli's code runs; before
    that (the interpreter's own start-up) Python's default handling, with no bpcli frame in it."""
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BPCLI_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-c", CONSOLE_SCRIPT, "train", "spiral", "--quiet",
                             "--out", str(tmp_path / "run")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:  # the run had already finished: nothing to interrupt
        return
    if proc.returncode == -signal.SIGINT or "Traceback" in err:
        # Python's own handling before bpcli could install its handler: the interpreter's start-up,
        # or the console script's `from bpcli.entry import main` (two files that import nothing)
        import re

        frames = re.findall(r'File "[^"]*[/\\]bpcli[/\\]([^"]+)"', err)
        assert set(frames) <= {"__init__.py", "entry.py"}, err
        return
    assert proc.returncode == 130, (proc.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted"), err
