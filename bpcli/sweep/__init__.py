"""Hyperparameter search through Optuna: search spaces in the override syntax (space.py),
the study and its storage (study.py, storage.py), trials as normal run directories
(trial.py, worker.py), the worker processes (runner.py), the report (report.py) and the one
call behind `bpcli sweep` (run.py). Optuna is imported only inside these functions, never by
`bpcli train`, `trace` or `gradcheck`."""
