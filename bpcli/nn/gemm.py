"""gemm(a, b, out, alpha, beta): out = alpha · a @ b + beta · out in one BLAS call.

NumPy's matmul has no alpha or beta, so "scale the product and add it to what is there" costs
extra passes over memory and a temporary. cblas_sgemm/dgemm does it while the product is still
in cache: the fused optimizer update (`bpcli/nn/train_step.py`) uses this to write
v = mu·v − lr·(x.T @ dout) straight from the dense layer's backward. The BLAS call goes through
the OpenBLAS NumPy already loaded; operands it cannot take (other dtypes, strides, overlap, no
OpenBLAS) take the NumPy route, which gives the same numbers up to rounding.
"""

from __future__ import annotations

import ctypes
from typing import Any, Optional

import numpy as np

from bpcli import openblas

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_routines: Optional[dict] = None  # dtype -> cblas function, once looked up


def _lookup() -> dict:
    routines = {}
    for dtype, name, real in ((np.float32, "cblas_sgemm", ctypes.c_float), (np.float64, "cblas_dgemm", ctypes.c_double)):
        found = openblas.symbol(name)
        if found is None:
            continue
        fn, suffix = found
        if suffix:
            integer = ctypes.c_int64
        elif openblas.uses_64bit_ints() is False:
            integer = ctypes.c_int32
        else:
            continue  # an unsuffixed symbol in an ILP64 build: the integer width is not certain
        ptr = ctypes.c_void_p
        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer, integer, real, ptr, integer, ptr, integer, real, ptr, integer]
        fn.restype = None
        routines[np.dtype(dtype)] = fn
    return routines


def blas_available(dtype: Any = np.float32) -> bool:
    """Whether gemm reaches cblas for this dtype (else it computes with NumPy)."""
    global _routines
    if _routines is None:
        _routines = _lookup()
    return np.dtype(dtype) in _routines


def _layout(a: np.ndarray) -> Optional[tuple[int, int]]:
    """(transpose flag, leading dimension) of a 2-D operand in row-major terms, or None when BLAS cannot read it."""
    rows, cols = a.shape
    step0, step1 = (s // a.itemsize for s in a.strides)
    if step1 == 1 and step0 >= cols and a.strides[0] % a.itemsize == 0:
        return _NO_TRANS, step0
    if step0 == 1 and step1 >= rows and a.strides[1] % a.itemsize == 0:
        return _TRANS, step1
    return None


def _numpy_gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    if beta == 0.0:
        np.matmul(a, b, out=out)
        if alpha != 1.0:
            out *= out.dtype.type(alpha)
        return out
    product = a @ b
    if alpha != 1.0:
        product *= product.dtype.type(alpha)
    if beta != 1.0:
        out *= out.dtype.type(beta)
    out += product
    return out


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """out = alpha · a @ b + beta · out, in place: a (M, K), b (K, N), out (M, N), one dtype; returns out.

    With beta = 0 the old contents of out are never read (NaN there does not leak), as in BLAS.
    """
    if a.ndim != 2 or b.ndim != 2 or out.ndim != 2:
        raise ValueError(f"gemm needs 2-D operands, got {a.shape}, {b.shape} -> {out.shape}")
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2 or out.shape != (m, n):
        raise ValueError(f"gemm shapes do not chain: {a.shape} @ {b.shape} -> {out.shape}")
    dtype = out.dtype
    fast = (
        a.dtype == dtype
        and b.dtype == dtype
        and min(m, n, k) >= 1
        and out.flags.c_contiguous
        and out.flags.writeable
        and blas_available(dtype)
    )
    if fast:
        layout_a, layout_b = _layout(a), _layout(b)
        if layout_a is not None and layout_b is not None and not (np.may_share_memory(out, a) or np.may_share_memory(out, b)):
            _routines[dtype](  # type: ignore[index]
                _ROW_MAJOR, layout_a[0], layout_b[0], m, n, k,
                alpha, a.ctypes.data, layout_a[1], b.ctypes.data, layout_b[1],
                beta, out.ctypes.data, n,
            )
            return out
    return _numpy_gemm(a, b, out, alpha, beta)
