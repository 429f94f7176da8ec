"""The process entry point of `bpcli` and `python -m bpcli`: Ctrl-C is handled before the
command line's imports, so it never shows a traceback, whenever it comes.

The console script pip writes runs `from bpcli.entry import main` before it calls main():
this module imports nothing at its top, so that window holds only two tiny files
(bpcli/__init__.py and this one); everything else is imported under the guard below."""


def main() -> None:
    try:
        from bpcli import interrupts

        interrupts.install()
        from bpcli.faults import crash_point

        crash_point("startup:imports")  # the tests' Ctrl-C in the middle of the imports
        from bpcli.cli import main as cli_main

        if interrupts.pending():  # pressed during the imports, its KeyboardInterrupt swallowed
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        _exit_interrupted()
    except Exception as err:  # e.g. "Error calling __set_name__" around a Ctrl-C in a class creation
        from bpcli import interrupts

        if interrupts.pending() or interrupts.caused_by_interrupt(err):
            _exit_interrupted()
        raise
    cli_main()


def _exit_interrupted() -> None:
    import sys

    print("interrupted; nothing was saved", file=sys.stderr)
    raise SystemExit(130) from None
