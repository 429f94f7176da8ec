"""Training: the loop (`loop.Trainer`), its metrics, best weights, Ctrl-C handling and callbacks;
persistence (`saving`: checkpoints, the run directory, atomic files); the `train:` options; and
the entry points `train_spec` (a spec into a new run) and `resume_run` (a stopped run).
Nothing here prints; the CLI renders the callbacks.

    from bpcli.training import train_spec, resume_run
"""


def __getattr__(name):
    if name in ("train_spec", "resume_run"):  # imported on use: `bpcli.training.options` stays light
        from bpcli.training import entry

        return getattr(entry, name)
    raise AttributeError(f"module 'bpcli.training' has no attribute '{name}'")
