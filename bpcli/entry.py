"""The process entry point of `bpcli` and `python -m bpcli`: Ctrl-C is handled before the
command line's imports, so it never shows a traceback, whenever it comes."""

from bpcli import interrupts


def main() -> None:
    interrupts.install()
    try:
        from bpcli.cli import main as cli_main

        if interrupts.pending():  # pressed during the imports, its KeyboardInterrupt swallowed
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupts.exit_interrupted()
    cli_main()
