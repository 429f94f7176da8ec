"""Start-up wall time of bpcli commands against a bare `import typer, rich`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.timing import command_wall_times

TRACE_TARGET = 1.2


def bpcli_argv() -> list:
    """The installed console script beside this Python, else `python -m bpcli`."""
    script = Path(sys.executable).with_name("bpcli")
    if script.exists():
        return [str(script)]
    found = shutil.which("bpcli")
    return [found] if found else [sys.executable, "-m", "bpcli"]


def editable_install() -> bool:
    """True when bpcli is installed in editable mode (`pip install -e .`): its import hook adds
    ~10 ms to every start-up (measured with -X importtime) that a regular install does not pay."""
    import site

    return any(any(Path(d).glob("__editable__*bpcli*"))
               for d in site.getsitepackages() if Path(d).is_dir())


def bench_cli(repeats: int) -> dict:
    """Median wall time of each command over `repeats` alternating runs, and ratios to the baseline."""
    bp = bpcli_argv()
    commands = {
        "python -c 'import typer, rich'": [sys.executable, "-c", "import typer, rich"],
        "bpcli --version": bp + ["--version"],
        "bpcli trace '(x+y)*z' --format json": bp + ["trace", "(x+y)*z", "--format", "json"],
    }
    env = dict(os.environ, NO_COLOR="1")
    trace_probe = subprocess.run(commands["bpcli trace '(x+y)*z' --format json"][:], capture_output=True, text=True, env=env)
    stats = command_wall_times(commands, repeats=repeats, env=env)
    base = stats["python -c 'import typer, rich'"].median
    rows = []
    for name, st in stats.items():
        row = {"command": name, **st.to_dict(), "ratio_to_import": st.median / base}
        if name.startswith("bpcli trace"):
            row["target_ratio"] = TRACE_TARGET
            row["works"] = trace_probe.returncode == 0
            if trace_probe.returncode != 0:
                row["note"] = f"exit code {trace_probe.returncode}"
            row["meets_target"] = row["works"] and row["ratio_to_import"] <= TRACE_TARGET
        rows.append(row)
    return {"repeats": repeats, "commands": rows, "editable_install": editable_install()}
