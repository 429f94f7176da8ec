"""Runs `bpcli ARGS...` cases for the hostile-input catalogue, each in a forked child under a
memory limit (RLIMIT_AS) and a time limit, so one JSON request line -> one JSON result line.

Forking from one process that has already imported bpcli makes a case cost milliseconds
instead of a Python start-up; the child runs the real entry point (`bpcli.cli.main`)."""

import json
import os
import resource
import signal
import sys
import tempfile
import time

from bpcli.cli import main

# what the commands import lazily, imported once here so that each forked case starts warm
import numpy  # noqa: E402,F401
import yaml  # noqa: E402,F401
import bpcli.data  # noqa: E402,F401
import bpcli.render.progress  # noqa: E402,F401
import bpcli.render.spec  # noqa: E402,F401
import bpcli.training.entry  # noqa: E402,F401
import bpcli.spec  # noqa: E402,F401


def run_case(args, cwd, memory, timeout):
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: limits, then the real CLI
        code = 1
        try:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            os.chdir(cwd)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.argv = ["bpcli", *args]
            try:
                main()
                code = 0
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 99
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    killed = None
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - started > timeout:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            killed = "timeout"
            break
        time.sleep(0.005)
    seconds = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    texts = []
    for f in (out, err):
        f.seek(0)
        texts.append(f.read().decode("utf-8", "replace"))
        f.close()
    return {"exit": code, "stdout": texts[0], "stderr": texts[1], "seconds": seconds,
            "max_rss_mb": usage.ru_maxrss / 1024, "killed": killed}


def serve():
    for line in sys.stdin:
        request = json.loads(line)
        result = run_case(request["args"], request["cwd"], request["memory"], request["timeout"])
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
