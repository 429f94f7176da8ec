"""Checkpoints: exact round trip, RNG state, atomic replace, no pickle."""

import os

import numpy as np
import pytest

from bpcli.training.checkpoint import Checkpoint, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from bpcli.errors import DataError


def sample(rng=None):
    rng = rng or np.random.default_rng(7)
    return Checkpoint(
        params={"fc1.W": rng.standard_normal((3, 4)).astype(np.float32), "fc1.b": np.zeros(4, np.float32)},
        buffers={"bn.running_mean": np.arange(4.0)},
        optimizer={"t": np.array(5), "m/fc1.W": np.ones((3, 4), np.float32)},
        schedule={"scale": np.array(0.5)},
        extra={"data_mean": np.array([0.1, 0.2])},
        meta={"epoch": 3, "step": 30, "best": 0.1 + 0.2, "spec": {"seed": 1, "model": ["relu"]}},
        rng={"shuffle": rng_state(rng)},
    )


def test_round_trip_is_exact(tmp_path):
    ck = sample()
    path = save_checkpoint(tmp_path / "last.npz", ck)
    back = load_checkpoint(path)
    for attr in ("params", "buffers", "optimizer", "schedule", "extra"):
        original, loaded = getattr(ck, attr), getattr(back, attr)
        assert original.keys() == loaded.keys()
        for k in original:
            assert loaded[k].dtype == np.asarray(original[k]).dtype
            np.testing.assert_array_equal(loaded[k], original[k])
    assert back.meta == ck.meta  # 0.30000000000000004 survives exactly


def test_rng_state_continues_the_same_stream(tmp_path):
    rng = np.random.default_rng(123)
    rng.random(10)
    save_checkpoint(tmp_path / "c.npz", Checkpoint(params={}, meta={}, rng={"r": rng_state(rng)}))
    expected = rng.random(5)
    other = np.random.default_rng(0)
    set_rng_state(other, load_checkpoint(tmp_path / "c.npz").rng["r"])
    np.testing.assert_array_equal(other.random(5), expected)


def test_loads_with_allow_pickle_false(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.npz", sample())
    seen = []
    real_load = np.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    load_checkpoint(path)
    assert seen == [False]


def test_a_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array("{}"), rng=np.array("{}"), **{"param/x": np.array([object()], dtype=object)})
    with pytest.raises(DataError):
        load_checkpoint(path)


def test_missing_and_garbage_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_checkpoint(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(DataError):
        load_checkpoint(bad)


def test_a_failed_write_keeps_the_previous_checkpoint_and_leaves_no_temp(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.npz", sample())
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(RuntimeError):
        save_checkpoint(path, sample(np.random.default_rng(99)))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.npz"]


def test_save_replaces_through_os_replace(tmp_path, monkeypatch):
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((os.path.dirname(src), os.fspath(dst)))
        assert os.path.exists(src)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    target = tmp_path / "best.npz"
    save_checkpoint(target, sample())
    assert calls == [(str(tmp_path), str(target))]
