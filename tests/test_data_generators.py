"""Seeded generators: shapes, class balance, determinism, and each one's geometry checked from its math."""

import numpy as np
import pytest

from bpcli.data import DATASETS, INJECTED, load_data
from bpcli.errors import DataError
from bpcli.registry import options_of

GENERATORS = ["spiral", "xor", "moons", "circles", "blobs", "bars"]


def make(name, seed=0, **options):
    return DATASETS.get(name)(rng=np.random.default_rng(seed), base_dir=None, **options)


@pytest.mark.parametrize("name", GENERATORS)
def test_defaults_are_balanced_float32_c_contiguous(name):
    raw = make(name)
    assert raw.X.dtype == np.float32 and raw.X.flags.c_contiguous
    assert raw.y.dtype == np.int64 and raw.y.shape == (len(raw.X),)
    counts = np.bincount(raw.y)
    assert len(counts) == raw.n_classes
    assert (counts == counts[0]).all() and counts[0] == 100


@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_same_data_other_seed_other_data(name):
    a, b, c = make(name, seed=3), make(name, seed=3), make(name, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("name", GENERATORS)
def test_every_option_is_typed_and_defaulted(name):
    for opt in options_of(DATASETS.get(name), skip=INJECTED).values():
        assert opt.default is not opt.empty and opt.annotation is not opt.empty, opt


@pytest.mark.parametrize(
    "name, options, shape, classes",
    [
        ("spiral", {"points_per_class": 7, "classes": 5}, (35, 2), 5),
        ("xor", {"points_per_class": 6}, (12, 2), 2),
        ("moons", {"points_per_class": 9}, (18, 2), 2),
        ("circles", {"points_per_class": 4, "classes": 3}, (12, 2), 3),
        ("blobs", {"points_per_class": 5, "classes": 4, "dimensions": 3}, (20, 3), 4),
        ("bars", {"images_per_class": 2, "size": 8}, (6, 1, 8, 8), 3),
        ("bars", {"images_per_class": 2, "flatten": True}, (6, 144), 3),
    ],
)
def test_size_and_class_options(name, options, shape, classes):
    raw = make(name, **options)
    assert raw.X.shape == shape
    assert raw.n_classes == classes
    np.testing.assert_array_equal(np.bincount(raw.y), [shape[0] // classes] * classes)


def test_spiral_matches_the_lecture_code():
    # CS231n's spiral, written out as in the lecture notes, drawing randn from the same generator
    N, D, K = 100, 2, 3
    rng = np.random.default_rng(11)
    X = np.zeros((N * K, D))
    y = np.zeros(N * K, dtype="uint8")
    for j in range(K):
        ix = range(N * j, N * (j + 1))
        r = np.linspace(0.0, 1, N)
        t = np.linspace(j * 4, (j + 1) * 4, N) + rng.standard_normal(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    raw = make("spiral", seed=11)
    np.testing.assert_allclose(raw.X, X, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(raw.y, y)


def test_spiral_geometry_radius_is_linspace_and_angle_without_noise():
    raw = make("spiral", noise=0.0, points_per_class=50)
    r = np.linspace(0, 1, 50)
    for j in range(3):
        pts = raw.X[raw.y == j].astype(np.float64)
        np.testing.assert_allclose(np.hypot(pts[:, 0], pts[:, 1]), r, atol=1e-6)
        t = np.linspace(4 * j, 4 * j + 4, 50)[1:]  # angle is undefined at r = 0
        angle = np.arctan2(pts[1:, 0], pts[1:, 1])  # x = r sin t, y = r cos t
        np.testing.assert_allclose(np.angle(np.exp(1j * (angle - t))), 0, atol=1e-4)
    # noise never changes the radius: r = linspace(0, 1, N) for every class
    noisy = make("spiral", noise=0.5).X.astype(np.float64)
    np.testing.assert_allclose(np.hypot(noisy[:100, 0], noisy[:100, 1]), np.linspace(0, 1, 100), atol=1e-6)


def test_xor_label_is_sign_product_without_noise():
    raw = make("xor", noise=0.0)
    product = np.sign(raw.X[:, 0]) * np.sign(raw.X[:, 1])
    np.testing.assert_array_equal(raw.y, (product < 0).astype(int))
    assert (np.abs(raw.X) <= 1).all()


def test_moons_lie_on_their_half_circles_without_noise():
    raw = make("moons", noise=0.0)
    up, low = raw.X[raw.y == 0].astype(float), raw.X[raw.y == 1].astype(float)
    np.testing.assert_allclose(up[:, 0] ** 2 + up[:, 1] ** 2, 1, atol=1e-6)
    assert (up[:, 1] >= -1e-7).all()
    np.testing.assert_allclose((low[:, 0] - 1) ** 2 + (low[:, 1] - 0.5) ** 2, 1, atol=1e-6)
    assert (low[:, 1] <= 0.5 + 1e-7).all()


def test_circles_radius_per_class_without_noise():
    raw = make("circles", noise=0.0, classes=4)
    radius = np.hypot(raw.X[:, 0], raw.X[:, 1])
    np.testing.assert_allclose(radius, (raw.y + 1) / 4, atol=1e-6)


def test_blobs_spread_and_separation():
    raw = make("blobs", points_per_class=2000, spread=0.5, classes=2, dimensions=3)
    for j in range(2):
        pts = raw.X[raw.y == j]
        np.testing.assert_allclose(pts.std(axis=0), 0.5, rtol=0.06)
        assert (np.abs(pts.mean(axis=0)) <= 5 + 0.1).all()  # centers inside center_box


def test_bars_draw_the_right_bar_without_noise():
    size, thick = 10, 2
    raw = make("bars", noise=0.0, size=size, thickness=thick, images_per_class=30)
    imgs = raw.X[:, 0]
    assert set(np.unique(imgs)) <= {0.0, 1.0}
    for img in imgs[raw.y == 0]:  # horizontal: `thick` adjacent full rows
        full = np.flatnonzero(img.sum(axis=1) == size)
        assert len(full) == thick and np.ptp(full) == thick - 1 and img.sum() == thick * size
    for img in imgs[raw.y == 1]:  # vertical: `thick` adjacent full columns
        full = np.flatnonzero(img.sum(axis=0) == size)
        assert len(full) == thick and img.sum() == thick * size
    for img in imgs[raw.y == 2]:  # diagonal: constant along i - j or along i + j
        i, j = np.nonzero(img)
        assert len(set(i - j)) == thick or len(set(i + j)) == thick
        assert (img.sum(axis=1) < size).all() and (img.sum(axis=0) < size).all()
    assert raw.class_names == ("horizontal", "vertical", "diagonal")


@pytest.mark.parametrize(
    "name, options",
    [
        ("spiral", {"points_per_class": 0}),
        ("spiral", {"classes": 1}),
        ("moons", {"noise": -0.1}),
        ("blobs", {"dimensions": 0}),
        ("bars", {"size": 3}),
        ("bars", {"thickness": 9}),
    ],
)
def test_bad_options_are_data_errors(name, options):
    with pytest.raises(DataError):
        make(name, **options)


def test_load_data_is_seeded_through_the_spec_seed():
    a = load_data({"type": "spiral", "val_fraction": 0.2}, seed=5)
    b = load_data({"type": "spiral", "val_fraction": 0.2}, seed=5)
    c = load_data({"type": "spiral", "val_fraction": 0.2}, seed=6)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.X_train, c.X_train)
