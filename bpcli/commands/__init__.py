"""One module per CLI command. Each parses its arguments, makes one library call and hands
the result to a renderer. Modules import only typer at import time (heavy imports go inside
the command body) so that `bpcli trace` never pays for NumPy or YAML."""
