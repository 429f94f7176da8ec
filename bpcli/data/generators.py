"""Seeded synthetic datasets: spiral (CS231n), xor, moons, circles, blobs, and `bars` images.

Each entry returns its points in class order (class 0 first); `load_data` shuffles when it
splits. Every random draw comes from the injected `rng`, so a seed fixes the data.
"""

from pathlib import Path
from typing import Optional

import numpy as np

from bpcli.data.registry import DATASETS, RawData
from bpcli.errors import DataError


def _require(ok: bool, message: str, option: Optional[str] = None) -> None:
    if not ok:
        raise DataError(message, option)


def _check_sizes(name: str, per_class: int, classes: int, noise: float, values_per_point: int = 2) -> None:
    """Option ranges, and the memory the points would take (float64 while drawn) against the budget."""
    from bpcli.memory_budget import over_budget, too_large

    _require(per_class >= 1, f"{name}: points_per_class must be >= 1, got {per_class}")
    _require(classes >= 2, f"{name}: classes must be >= 2, got {classes}")
    _require(noise >= 0, f"{name}: noise must be >= 0, got {noise}")
    n_bytes = per_class * classes * (values_per_point + 1) * 8
    _require(not too_large(n_bytes), f"{name}: " + over_budget(
        n_bytes, f"{per_class:,} points per class x {classes:,} classes"), "points_per_class")


def _labels(per_class: int, classes: int) -> np.ndarray:
    return np.repeat(np.arange(classes, dtype=np.int64), per_class)


def _raw(X: np.ndarray, per_class: int, classes: int) -> RawData:
    return RawData(np.ascontiguousarray(X, dtype=np.float32), _labels(per_class, classes), n_classes=classes)


@DATASETS.register("spiral")
def spiral(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    points_per_class: int = 100,
    classes: int = 3,
    noise: float = 0.2,
) -> RawData:
    """CS231n spiral: r = linspace(0,1,N), t = linspace(4j, 4(j+1), N) + noise·randn, x = r·(sin t, cos t)."""
    _check_sizes("spiral", points_per_class, classes, noise)
    n = points_per_class
    X = np.empty((n * classes, 2))
    r = np.linspace(0.0, 1.0, n)
    for j in range(classes):
        t = np.linspace(j * 4, (j + 1) * 4, n) + rng.standard_normal(n) * noise
        X[n * j : n * (j + 1)] = np.c_[r * np.sin(t), r * np.cos(t)]
    return _raw(X, n, classes)


@DATASETS.register("xor")
def xor(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    points_per_class: int = 100,
    noise: float = 0.1,
) -> RawData:
    """XOR: uniform points in the four unit quadrants; class = (x0 > 0) xor (x1 > 0); + noise·randn."""
    _check_sizes("xor", points_per_class, 2, noise)
    n = points_per_class
    # class 0 fills quadrants (+,+) and (-,-), class 1 fills (+,-) and (-,+), half each
    signs = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    quadrant = np.concatenate([np.arange(n) % 2, 2 + np.arange(n) % 2])
    X = signs[quadrant] * rng.uniform(0.0, 1.0, (2 * n, 2)) + noise * rng.standard_normal((2 * n, 2))
    return _raw(X, n, 2)


@DATASETS.register("moons")
def moons(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    points_per_class: int = 100,
    noise: float = 0.1,
) -> RawData:
    """Two interleaved half circles: (cos θ, sin θ) and (1 − cos θ, 0.5 − sin θ), θ ∈ [0, π]; + noise·randn."""
    _check_sizes("moons", points_per_class, 2, noise)
    n = points_per_class
    theta = np.linspace(0.0, np.pi, n)
    upper = np.c_[np.cos(theta), np.sin(theta)]
    lower = np.c_[1.0 - np.cos(theta), 0.5 - np.sin(theta)]
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((2 * n, 2))
    return _raw(X, n, 2)


@DATASETS.register("circles")
def circles(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    points_per_class: int = 100,
    classes: int = 2,
    noise: float = 0.05,
) -> RawData:
    """Concentric rings: class j on radius (j+1)/classes at angles 2πk/N; + noise·randn."""
    _check_sizes("circles", points_per_class, classes, noise)
    n = points_per_class
    angle = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    unit = np.c_[np.cos(angle), np.sin(angle)]
    X = np.concatenate([unit * (j + 1) / classes for j in range(classes)])
    X += noise * rng.standard_normal(X.shape)
    return _raw(X, n, classes)


@DATASETS.register("blobs")
def blobs(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    points_per_class: int = 100,
    classes: int = 3,
    dimensions: int = 2,
    spread: float = 1.0,
    center_box: float = 5.0,
) -> RawData:
    """Gaussian blobs: centers uniform in [-center_box, center_box]^D, points = center + spread·randn."""
    _check_sizes("blobs", points_per_class, classes, spread)
    _require(dimensions >= 1, f"blobs: dimensions must be >= 1, got {dimensions}")
    n = points_per_class
    centers = rng.uniform(-center_box, center_box, (classes, dimensions))
    X = np.repeat(centers, n, axis=0) + spread * rng.standard_normal((n * classes, dimensions))
    return _raw(X, n, classes)


BAR_CLASSES = ("horizontal", "vertical", "diagonal")


@DATASETS.register("bars")
def bars(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    images_per_class: int = 100,
    size: int = 12,
    thickness: int = 2,
    noise: float = 0.2,
    flatten: bool = False,
) -> RawData:
    """Tiny images (1, size, size): a horizontal, vertical or diagonal bar of 1s at a random place + noise·randn."""
    _require(size >= 4, f"bars: size must be >= 4, got {size}")
    _check_sizes("bars", images_per_class, 2, noise, values_per_point=3 * size * size)
    _require(1 <= thickness <= size // 2, f"bars: thickness must be in 1..{size // 2}, got {thickness}")
    n = images_per_class
    rows, cols = np.indices((size, size))
    start = rng.integers(0, size - thickness + 1, size=(2, n))  # bar position per image
    diagonal_offset = rng.integers(-(size // 3), size // 3 + 1, size=n)
    anti = rng.integers(0, 2, size=n).astype(bool)  # diagonal direction: \ or /
    images = np.zeros((3, n, size, size))
    for k in range(n):
        images[0, k] = (rows >= start[0, k]) & (rows < start[0, k] + thickness)
        images[1, k] = (cols >= start[1, k]) & (cols < start[1, k] + thickness)
        along = (rows + cols - (size - 1)) if anti[k] else (rows - cols)
        images[2, k] = (along >= diagonal_offset[k]) & (along < diagonal_offset[k] + thickness)
    X = images.reshape(3 * n, 1, size, size) + noise * rng.standard_normal((3 * n, 1, size, size))
    if flatten:
        X = X.reshape(3 * n, size * size)
    data = _raw(X, n, 3)
    data.class_names = BAR_CLASSES
    return data
