"""A trial process: `python -m bpcli.sweep.worker SWEEP_DIR INDEX`, started by `bpcli sweep`
(its own process group, so the sweep decides when it is interrupted). The storage URL comes in
BPCLI_SWEEP_STORAGE (not on the command line, where a password would show in `ps`).
Exit 0: the sweep is full; 130: interrupted; 2: a usage problem (printed)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

STORAGE_ENV = "BPCLI_SWEEP_STORAGE"


def main(argv: list[str]) -> int:
    from bpcli.errors import BpcliError
    from bpcli.sweep.config import SweepConfig
    from bpcli.sweep.study import open_study
    from bpcli.sweep.trial import work

    sweep_dir, index = Path(argv[0]), int(argv[1])
    parent = os.getppid()
    stop = {"asked": False}

    def on_signal(signum, frame):  # between trials; while training, the trainer's own handler runs
        stop["asked"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def stop_requested() -> bool:
        return stop["asked"] or os.getppid() != parent  # the sweep itself is gone

    try:
        cfg = SweepConfig.load(sweep_dir)
        cfg.storage = os.environ.get(STORAGE_ENV) or cfg.storage
        study = open_study(cfg, sweep_dir, create=False, worker=index)
        full = work(cfg, sweep_dir, study, stop_requested)
    except BpcliError as err:
        print(err.render(), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a bug: one line, and the sweep goes on with its other workers
        print(f"bpcli sweep worker {index}: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0 if full else 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
