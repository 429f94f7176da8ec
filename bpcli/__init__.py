"""bpcli: see and check backpropagation.

In a notebook or a script: `bpcli.trace(expr, **values)` and `bpcli.gradcheck(...)` (see
bpcli/notebook.py). Both load lazily, so `import bpcli` (every CLI start) stays cheap.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "trace":
        from bpcli.notebook import trace

        return trace
    if name == "gradcheck":
        import importlib

        return importlib.import_module("bpcli.gradcheck")  # a module you can call: see its __init__
    raise AttributeError(f"module 'bpcli' has no attribute '{name}'")
