"""Shared test settings: property tests are derandomized under CI (same examples every run, so
a red CI always means a reproducible failure); locally they explore new examples each run."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


import collections  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(params=["blas", "numpy"])
def blas_route(request, monkeypatch):
    """Run the test twice: through cblas for every size (thresholds 0, each call counted in
    `.calls`), and through NumPy alone (as on a machine without OpenBLAS)."""
    from bpcli.nn import blas

    route = types.SimpleNamespace(name=request.param, calls=collections.Counter())
    if request.param == "numpy":
        monkeypatch.setattr(blas, "_routines", {})
        return route
    if not blas.blas_available(np.float32):
        pytest.skip("NumPy's BLAS is not a reachable OpenBLAS")
    monkeypatch.setattr(blas, "MIN_GEMM_MACS", 0)
    monkeypatch.setattr(blas, "MIN_AXPY_SIZE", 0)
    counted = {}
    for key, fn in blas._routines.items():
        def call(*args, _fn=fn, _name=key[0]):
            route.calls[_name] += 1
            return _fn(*args)

        counted[key] = call
    monkeypatch.setattr(blas, "_routines", counted)
    return route
