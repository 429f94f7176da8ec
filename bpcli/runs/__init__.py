"""Runs of a spec: training into a run directory (`training`), a finished run's model back from
disk (`trained`), and what the CLI does with it: evaluation, predictions, the decision surface
of a 2-D classifier. Nothing here prints; warnings travel back as data."""
