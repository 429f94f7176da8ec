"""`python -m bpcli` runs the command-line interface."""

try:
    from bpcli.entry import main
except KeyboardInterrupt:  # Ctrl-C before the entry point could install its handler
    import sys

    print("interrupted; nothing was saved", file=sys.stderr)
    raise SystemExit(130) from None

if __name__ == "__main__":
    main()
