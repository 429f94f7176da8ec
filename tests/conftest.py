"""Shared test settings: property tests are derandomized under CI (same examples every run, so
a red CI always means a reproducible failure); locally they explore new examples each run."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
