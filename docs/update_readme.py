"""Refresh the real command output shown in README.md.

Every ```text block whose first line is `$ bpcli ...` is rerun (plain output, 100 columns, from
the repository root) and its output replaces the rest of the block:

    python docs/update_readme.py
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```text\n(\$ bpcli [^\n]*)\n.*?```", re.S)


def run(command_line: str, scratch: str) -> str:
    args = shlex.split(command_line[2:])[1:]
    if args and args[0] == "train" and "--out" not in args:
        args += ["--out", os.path.join(scratch, "run")]
    shown_out = None
    if args and args[0] == "sweep" and "--out" in args:  # a fresh sweep directory each time
        i = args.index("--out") + 1
        shown_out, args[i] = args[i], os.path.join(scratch, os.path.basename(args[i]))
    env = dict(os.environ, COLUMNS="100", TERM="dumb")
    proc = subprocess.run(
        [sys.executable, "-m", "bpcli", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    text = proc.stdout.rstrip() if proc.stdout.strip() else proc.stderr.rstrip()
    text = text.replace(os.path.join(scratch, "run"), "runs/spiral-20261121-120000")
    if shown_out:
        made = os.path.join(scratch, os.path.basename(shown_out))
        text = text.replace(os.path.realpath(made), shown_out).replace(made, shown_out)
    lines = [line.rstrip() for line in text.splitlines()]
    epochs = [i for i, line in enumerate(lines) if line.startswith("epoch ")]
    if len(epochs) > 6:  # keep the first three and the last two epoch lines
        lines[epochs[3] : epochs[-2]] = ["..."]
    return "\n".join(lines)


def main() -> None:
    readme = ROOT / "README.md"
    with tempfile.TemporaryDirectory() as scratch:
        text = BLOCK.sub(
            lambda m: f"```text\n{m.group(1)}\n{run(m.group(1), scratch)}\n```", readme.read_text()
        )
    readme.write_text(text)


if __name__ == "__main__":
    main()
