"""Training: the loop (`loop`), its metrics, the checkpoint state and the run directory it is
saved in, atomic files, the `train:` options, and the entry points `train_spec` (a new run) and
`resume_run` (a stopped one) in `entry`. Nothing here prints; the CLI renders the callbacks."""
