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

from bpcli.data.locations import ENV as DATASETS_ENV  # noqa: E402
from fake_datasets import fake_cifar10, fake_fashion_mnist  # noqa: E402

# What the run was started with, before the fixture below replaces it: the one test of the real
# Fashion-MNIST looks there (`.ci/run` points it at an empty folder, so CI never sees real data).
REAL_DATASETS = os.environ.get(DATASETS_ENV)


@pytest.fixture(scope="session", autouse=True)
def small_installed_datasets(tmp_path_factory):
    """Every test, and every `bpcli` subprocess it starts, sees as installed datasets only small
    copies written here in the real formats: the suite passes the same with or without real data."""
    root = tmp_path_factory.mktemp("datasets")
    fake_fashion_mnist(root / "fashion-mnist")
    fake_cifar10(root / "cifar-10")
    old = os.environ.get(DATASETS_ENV)
    os.environ[DATASETS_ENV] = str(root)
    yield root
    if old is None:
        os.environ.pop(DATASETS_ENV, None)
    else:
        os.environ[DATASETS_ENV] = old


@pytest.fixture(params=["blas", "numpy"])
def blas_route(request, monkeypatch):
    """Run the test twice: through cblas for every size (thresholds 0, each call counted in
    `.calls`), and through NumPy alone (as on a machine without OpenBLAS)."""
    from bpcli.host import blas

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
