"""`python -m bpcli` runs the command-line interface."""

from bpcli.entry import main

if __name__ == "__main__":
    main()
