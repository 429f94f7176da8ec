"""Splits (disjoint, seeded, own test split kept), train-only standardization, mini-batches."""

import numpy as np
import pytest

from bpcli.data import iterate_batches, load_data
from bpcli.data.splits import split_indices
from bpcli.errors import DataError


def rows(X):
    return {tuple(r) for r in X.tolist()}


def test_split_indices_are_disjoint_sorted_and_cover_everything():
    parts = split_indices(103, np.random.default_rng(0), val_fraction=0.2, test_fraction=0.1)
    assert (len(parts.train), len(parts.val), len(parts.test)) == (72, 21, 10)
    together = np.concatenate([parts.train, parts.val, parts.test])
    np.testing.assert_array_equal(np.sort(together), np.arange(103))
    for p in (parts.train, parts.val, parts.test):
        assert (np.diff(p) > 0).all()


def test_split_indices_seeded():
    a = split_indices(50, np.random.default_rng(1), val_fraction=0.3)
    b = split_indices(50, np.random.default_rng(1), val_fraction=0.3)
    c = split_indices(50, np.random.default_rng(2), val_fraction=0.3)
    np.testing.assert_array_equal(a.val, b.val)
    assert not np.array_equal(a.val, c.val)


def test_a_small_fraction_still_gives_one_example():
    assert len(split_indices(10, np.random.default_rng(0), val_fraction=0.01).val) == 1


@pytest.mark.parametrize(
    "kwargs", [{"val_fraction": 1.0}, {"test_fraction": -0.1}, {"val_fraction": 0.5, "test_fraction": 0.5},
               {"max_examples": 0}]
)
def test_bad_split_options(kwargs):
    with pytest.raises(DataError):
        split_indices(10, np.random.default_rng(0), **kwargs)


def test_load_data_splits_without_leakage():
    data = load_data({"type": "blobs", "val_fraction": 0.2, "test_fraction": 0.1}, seed=0)
    full = load_data({"type": "blobs"}, seed=0)
    assert (len(data.X_train), len(data.X_val), len(data.X_test)) == (210, 60, 30)
    train, val, test = rows(data.X_train), rows(data.X_val), rows(data.X_test)
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == rows(full.X_train)
    for X in (data.X_train, data.X_val, data.X_test):
        assert X.dtype == np.float32 and X.flags.c_contiguous
    assert data.y_train.dtype == np.int64 and data.input_shape == (2,) and data.n_classes == 3


def test_standardization_uses_train_statistics_only():
    section = {"type": "blobs", "val_fraction": 0.25, "test_fraction": 0.25, "spread": 3.0}
    raw = load_data(section, seed=4)
    std = load_data({**section, "standardize": True}, seed=4)
    mean_train = raw.X_train.astype(np.float64).mean(axis=0)
    std_train = raw.X_train.astype(np.float64).std(axis=0)
    np.testing.assert_allclose(std.mean, mean_train, rtol=1e-5)
    np.testing.assert_allclose(std.std, std_train, rtol=1e-5)
    np.testing.assert_allclose(std.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(std.X_train.std(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(std.X_val, (raw.X_val - mean_train) / std_train, atol=1e-5)
    np.testing.assert_allclose(std.X_test, (raw.X_test - mean_train) / std_train, atol=1e-5)
    # the held-out splits' own statistics differ: they were not used for fitting
    assert not np.allclose(std.X_val.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(std.prepare(raw.X_val), std.X_val, atol=1e-6)


def test_constant_feature_is_centred_not_divided_by_zero(tmp_path):
    (tmp_path / "c.csv").write_text("a,b,y\n1,5,0\n2,5,1\n3,5,0\n")
    data = load_data({"type": "csv", "path": "c.csv", "standardize": True}, base_dir=tmp_path, seed=0)
    assert np.isfinite(data.X_train).all()
    np.testing.assert_array_equal(data.X_train[:, 1], 0)


def test_own_test_split_is_kept_and_test_fraction_ignored(tmp_path):
    X = np.arange(40, dtype=float).reshape(20, 2)
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(20) % 2, X_test=-X[:5], y_test=np.zeros(5, int))
    data = load_data({"type": "npz", "path": "d.npz", "test_fraction": 0.5, "val_fraction": 0.25},
                     base_dir=tmp_path, seed=0)
    np.testing.assert_array_equal(data.X_test, -X[:5])
    assert len(data.X_train) == 15 and len(data.X_val) == 5


def test_max_examples_draws_a_seeded_subset_before_splitting():
    data = load_data({"type": "spiral", "max_examples": 50, "val_fraction": 0.2}, seed=0)
    assert len(data.X_train) == 40 and len(data.X_val) == 10
    full = rows(load_data({"type": "spiral"}, seed=0).X_train)
    assert rows(data.X_train) <= full and len(set(data.y_train.tolist())) == 3  # a mix of classes


def test_no_split_means_no_copy():
    data = load_data({"type": "spiral"}, seed=0)
    assert data.X_val is None and data.X_test is None and data.X_train.base is None


# ---------------------------------------------------------------- batches

def numbered(n):
    X = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    return X, np.arange(n, dtype=np.int64)


def test_batches_cover_every_example_once_per_epoch():
    X, y = numbered(103)
    rng = np.random.default_rng(0)
    for _ in range(3):
        batches = list(iterate_batches(X, y, 10, rng))
        assert [len(b[1]) for b in batches] == [10] * 10 + [3]
        seen = np.concatenate([yb for _, yb in batches])
        np.testing.assert_array_equal(np.sort(seen), np.arange(103))
        for Xb, yb in batches:
            np.testing.assert_array_equal(Xb[:, 0], yb)  # rows stay paired with labels
            assert Xb.dtype == np.float32 and Xb.flags.c_contiguous


def test_batches_seeded_and_reshuffled_each_epoch():
    X, y = numbered(50)
    order = lambda rng: np.concatenate([yb for _, yb in iterate_batches(X, y, 8, rng)])  # noqa: E731
    r1, r2 = np.random.default_rng(7), np.random.default_rng(7)
    first, again = order(r1), order(r2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, np.arange(50))
    assert not np.array_equal(order(r1), first)  # the next epoch has another order


def test_unshuffled_batches_are_views_in_order():
    X, y = numbered(20)
    batches = list(iterate_batches(X, y, 6, None, shuffle=False))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.arange(20))
    assert all(np.shares_memory(Xb, X) and Xb.flags.c_contiguous for Xb, _ in batches)


def test_full_batch_is_the_arrays_themselves():
    X, y = numbered(20)
    for size in (None, 20, 500):
        ((Xb, yb),) = list(iterate_batches(X, y, size, np.random.default_rng(0)))
        assert Xb is X and yb is y


def test_bad_batch_arguments():
    X, y = numbered(5)
    with pytest.raises(DataError):
        list(iterate_batches(X, y, 0, np.random.default_rng(0)))
    with pytest.raises(DataError):
        list(iterate_batches(X, y[:3], 2, np.random.default_rng(0)))


def test_prepare_checks_the_input_shape():
    data = load_data({"type": "spiral", "standardize": True}, seed=0)
    with pytest.raises(DataError, match=r"shape \(3,\)"):
        data.prepare(np.zeros((4, 3)))


def test_batches_without_labels():
    X, _ = numbered(7)
    batches = list(iterate_batches(X, None, 3, np.random.default_rng(0)))
    assert [len(Xb) for Xb, _ in batches] == [3, 3, 1] and all(yb is None for _, yb in batches)
    np.testing.assert_array_equal(np.sort(np.concatenate([Xb[:, 0] for Xb, _ in batches])), np.arange(7))


def test_reused_buffers_give_the_same_batches_without_new_arrays():
    X, y = numbered(103)
    fresh = [(Xb.copy(), yb.copy()) for Xb, yb in iterate_batches(X, y, 10, np.random.default_rng(5))]
    reused, bases = [], set()
    for Xb, yb in iterate_batches(X, y, 10, np.random.default_rng(5), reuse_buffers=True):
        assert Xb.flags.c_contiguous and Xb.dtype == np.float32
        np.testing.assert_array_equal(Xb[:, 0], yb)  # rows stay paired with labels
        bases.add(id(Xb.base))
        reused.append((Xb.copy(), yb.copy()))
    assert len(bases) == 1  # every batch is a view of one buffer
    assert [len(b[1]) for b in reused] == [10] * 10 + [3]
    for (Xa, ya), (Xb, yb) in zip(fresh, reused):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(ya, yb)
