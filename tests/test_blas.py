"""gemm(a, b, out, alpha, beta) = alpha · a @ b + beta · out, checked against float64 NumPy on every operand layout."""

import numpy as np
import pytest

from bpcli.host import blas as gemm_module
from bpcli.host.blas import gemm


def _layout(array: np.ndarray, kind: str) -> np.ndarray:
    """The same values stored row-major, column-major (a transposed view), or as a slice of a bigger array."""
    if kind == "c":
        return np.ascontiguousarray(array)
    if kind == "t":
        return np.ascontiguousarray(array.T).T
    padded = np.zeros((array.shape[0] + 3, array.shape[1] + 5), dtype=array.dtype)
    padded[1 : 1 + array.shape[0], 2 : 2 + array.shape[1]] = array
    return padded[1 : 1 + array.shape[0], 2 : 2 + array.shape[1]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind_a", ["c", "t", "slice"])
@pytest.mark.parametrize("kind_b", ["c", "t", "slice"])
@pytest.mark.parametrize("kind_out", ["c", "slice"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (-0.3, 0.9), (2.0, 1.0)])
@pytest.mark.parametrize("m,k,n", [(7, 5, 4), (1, 6, 3), (4, 1, 5), (70, 90, 60), (1, 600, 500)])
def test_gemm_matches_float64_numpy(blas_route, dtype, kind_a, kind_b, kind_out, alpha, beta, m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a = _layout(rng.standard_normal((m, k)).astype(dtype), kind_a)
    b = _layout(rng.standard_normal((k, n)).astype(dtype), kind_b)
    out = _layout(rng.standard_normal((m, n)).astype(dtype), kind_out)
    expected = alpha * (a.astype(np.float64) @ b.astype(np.float64)) + beta * out.astype(np.float64)
    # the classic bound for a length-k dot product in floating point: k · eps · (|a| @ |b|)
    bound = (k + 2) * np.finfo(dtype).eps * (abs(alpha) * (np.abs(a).astype(np.float64) @ np.abs(b)) + abs(beta) * np.abs(out))
    result = gemm(a, b, out, alpha, beta)
    assert result is out
    assert np.all(np.abs(out - expected) <= bound + np.finfo(dtype).tiny)
    assert blas_route.calls["gemm"] == (blas_route.name == "blas")  # every layout here is one BLAS can take


def test_beta_zero_never_reads_the_old_contents():
    a, b = np.ones((3, 2), np.float32), np.ones((2, 4), np.float32)
    out = np.full((3, 4), np.nan, np.float32)
    gemm(a, b, out, 0.5, 0.0)
    np.testing.assert_array_equal(out, np.full((3, 4), 1.0, np.float32))


def test_an_output_that_overlaps_an_operand_is_computed_as_if_it_did_not(blas_route):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 4))
    expected = 2.0 * (a @ a) + 0.5 * a
    gemm(a, a.copy(), a, 2.0, 0.5)  # out is a itself: BLAS would read what it already overwrote
    np.testing.assert_allclose(a, expected, rtol=1e-12)
    assert blas_route.calls["gemm"] == 0


def test_operands_blas_cannot_take_go_through_numpy(blas_route):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((6, 8))[:, ::2].astype(np.float32)  # stride 2 in both directions
    b = rng.standard_normal((4, 3)).astype(np.float16)  # another dtype than out
    out = np.ones((6, 3), np.float32)
    expected = 3.0 * (a.astype(np.float64) @ b.astype(np.float64)) - 1.0
    gemm(a, b, out, 3.0, -1.0)
    np.testing.assert_allclose(out, expected, rtol=1e-3)
    assert blas_route.calls["gemm"] == 0


def test_a_field_of_a_structured_array_is_neither_misread_nor_overwritten_around(blas_route):
    """Strides of 5 bytes (a float32 field next to a byte): BLAS cannot express them."""
    rng = np.random.default_rng(6)
    record = np.zeros((8, 6), dtype=[("x", "f4"), ("pad", "u1")])
    record["x"] = rng.standard_normal((8, 6))
    record["pad"] = 7
    b = rng.standard_normal((6, 5)).astype(np.float32)
    out_record = np.zeros((8, 5), dtype=[("y", "f4"), ("pad", "u1")])
    out_record["pad"] = 9
    gemm(record["x"], b, out_record["y"])
    np.testing.assert_allclose(out_record["y"], record["x"].astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    assert (out_record["pad"] == 9).all() and (record["pad"] == 7).all()
    assert blas_route.calls["gemm"] == 0


@pytest.mark.parametrize("shapes", [((3, 4), (5, 2), (3, 2)), ((3, 4), (4, 2), (2, 3)), ((3, 4, 1), (4, 2), (3, 2))])
def test_shapes_that_do_not_chain_are_refused(shapes):
    a, b, out = (np.zeros(s, np.float32) for s in shapes)
    with pytest.raises(ValueError):
        gemm(a, b, out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [1.0, -0.25])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (0, 3)])
def test_axpy_matches_numpy(blas_route, dtype, alpha, shape):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    expected = y.astype(np.float64) + alpha * x.astype(np.float64)
    assert gemm_module.axpy(alpha, x, y) is y
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert blas_route.calls["axpy"] == (blas_route.name == "blas" and x.size > 0)


def test_axpy_on_views_and_itself(blas_route):
    y = np.arange(12.0).reshape(3, 4)
    gemm_module.axpy(2.0, y[:, ::-1].copy()[:, ::-1], y)  # a non-contiguous x
    np.testing.assert_array_equal(y, 3 * np.arange(12.0).reshape(3, 4))
    gemm_module.axpy(1.0, y, y)  # x is y: NumPy's route
    np.testing.assert_array_equal(y, 6 * np.arange(12.0).reshape(3, 4))
    with pytest.raises(ValueError):
        gemm_module.axpy(1.0, np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.9), (-0.25, 1.0), (2.0, 0.0)])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (0, 3)])
def test_axpby_matches_numpy(blas_route, dtype, alpha, beta, shape):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    expected = alpha * x.astype(np.float64) + beta * y.astype(np.float64)
    assert gemm_module.axpby(alpha, x, beta, y) is y
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-7)
    if blas_route.name == "numpy" or not gemm_module._routine("axpby", dtype):
        assert blas_route.calls["axpby"] == 0
    else:
        assert blas_route.calls["axpby"] == (x.size > 0)


def test_axpby_with_x_the_same_array_as_y_takes_numpy_and_is_right(blas_route):
    y = np.arange(6.0)
    gemm_module.axpby(1.0, y, 0.5, y)  # y = y + 0.5 y
    np.testing.assert_array_equal(y, 1.5 * np.arange(6.0))
    assert blas_route.calls["axpby"] == 0
    with pytest.raises(ValueError):
        gemm_module.axpby(1.0, np.zeros(3), 1.0, np.zeros(4))


@pytest.mark.parametrize("shape", [(3, 4, 5), (128, 784, 64)])  # below and above MIN_GEMM_MACS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_is_x_at_W_plus_b(blas_route, shape, dtype):
    m, k, n = shape
    rng = np.random.default_rng(5)
    x, W, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype), rng.standard_normal(n).astype(dtype)
    expected = x.astype(np.float64) @ W.astype(np.float64) + b
    out = gemm_module.affine(x, W, b)
    assert out.dtype == dtype and out.shape == (m, n)
    np.testing.assert_allclose(out, expected, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-4 if dtype == np.float32 else 1e-12)
