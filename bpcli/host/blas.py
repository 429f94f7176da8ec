"""Three BLAS routines NumPy does not expose, called through the OpenBLAS NumPy already loaded:

    gemm(a, b, out, alpha, beta):  out = alpha · a @ b + beta · out   (cblas_sgemm / dgemm)
    axpy(alpha, x, y):             y += alpha · x                       (cblas_saxpy / daxpy)
    axpby(alpha, x, beta, y):      y = alpha · x + beta · y             (cblas_saxpby, an OpenBLAS extension)
    affine(x, W, b):               x @ W + b with the bias in the GEMM's beta

NumPy's matmul has no alpha or beta, so "scale the product and add it to what is there" costs
extra passes over memory and a temporary; BLAS does it while the product is still in cache. The
fused optimizer update (`bpcli/fast/train_step.py`) writes v = mu·v − lr·(x.T @ dout) straight from
the dense layer's backward with it, then w += v with axpy (OpenBLAS runs it on its threads; NumPy's
in-place add runs on one). Operands BLAS cannot take (other dtypes, strides, overlap, no
OpenBLAS) take the NumPy route, which gives the same numbers up to rounding.
"""

from __future__ import annotations

import ctypes
from typing import Any, Optional

import numpy as np

from bpcli.host import openblas

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# Below these sizes NumPy's own calls win: a ctypes call costs ~6 µs more than np.matmul (measured
# 12.3 vs 6.0 µs for (300, 2) @ (2, 100)), and axpy 5.7 µs against 0.4 for `y += x` on 300 floats.
MIN_GEMM_MACS = 1 << 20  # m·n·k
MIN_AXPY_SIZE = 1 << 15
_REALS = {np.dtype(np.float32): ("s", ctypes.c_float), np.dtype(np.float64): ("d", ctypes.c_double)}
_routines: Optional[dict] = None  # (routine, dtype) -> cblas function, once looked up


def _integer_type(suffix: str) -> Optional[Any]:
    if suffix:
        return ctypes.c_int64
    if openblas.uses_64bit_ints() is False:
        return ctypes.c_int32
    return None  # an unsuffixed symbol in an ILP64 build: the integer width is not certain


def _argtypes(name: str, integer: Any, real: Any) -> list:
    """The C signature of cblas_?gemm, ?axpy or ?axpby, for one integer width and one real type."""
    ptr, enum = ctypes.c_void_p, ctypes.c_int
    return {
        "gemm": [enum, enum, enum, integer, integer, integer, real, ptr, integer, ptr, integer, real, ptr, integer],
        "axpy": [integer, real, ptr, integer, ptr, integer],
        "axpby": [integer, real, ptr, integer, real, ptr, integer],
    }[name]


def _lookup() -> dict:
    routines = {}
    for dtype, (letter, real) in _REALS.items():
        for name in ("gemm", "axpy", "axpby"):
            found = openblas.symbol(f"cblas_{letter}{name}")
            integer = _integer_type(found[1]) if found else None
            if integer is not None:
                fn = found[0]
                fn.argtypes = _argtypes(name, integer, real)
                fn.restype = None
                routines[name, dtype] = fn
    return routines


def _routine(name: str, dtype: Any) -> Optional[Any]:
    global _routines
    if _routines is None:
        _routines = _lookup()
    return _routines.get((name, np.dtype(dtype)))


def blas_available(dtype: Any = np.float32) -> bool:
    """Whether gemm and axpy reach cblas for this dtype (else they compute with NumPy)."""
    return _routine("gemm", dtype) is not None and _routine("axpy", dtype) is not None


def _layout(a: np.ndarray) -> Optional[tuple[int, int]]:
    """(transpose flag, leading dimension) of a 2-D operand in row-major terms, or None when BLAS cannot read it."""
    if not (a.flags.aligned and a.dtype.isnative) or any(s % a.itemsize for s in a.strides):
        return None  # e.g. a field of a structured array: strides BLAS cannot express
    rows, cols = a.shape
    step0, step1 = (s // a.itemsize for s in a.strides)
    if cols == 1:
        step1 = 1  # the stride along an axis of length 1 is never used (NumPy may report anything)
    if rows == 1:
        step0 = cols
    if step1 == 1 and step0 >= cols:
        return _NO_TRANS, step0
    if step0 == 1 and step1 >= rows:
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
    out may be a view whose rows are spaced (out = big[:, j:j + N]), as BLAS's ldc allows.

    With beta = 0 the old contents of out are never read (NaN there does not leak), as in BLAS.
    """
    if a.ndim != 2 or b.ndim != 2 or out.ndim != 2:
        raise ValueError(f"gemm needs 2-D operands, got {a.shape}, {b.shape} -> {out.shape}")
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2 or out.shape != (m, n):
        raise ValueError(f"gemm shapes do not chain: {a.shape} @ {b.shape} -> {out.shape}")
    dtype = out.dtype
    routine = _routine("gemm", dtype)
    fast = (
        routine is not None
        and m * n * k >= MIN_GEMM_MACS
        and a.dtype == dtype
        and b.dtype == dtype
        and min(m, n, k) >= 1
        and out.flags.writeable
    )
    if fast:
        layout_a, layout_b, layout_out = _layout(a), _layout(b), _layout(out)
        if (
            layout_a is not None
            and layout_b is not None
            and layout_out is not None
            and layout_out[0] == _NO_TRANS  # rows of out may be spaced (a column slice of a wider array)
            and not (np.may_share_memory(out, a) or np.may_share_memory(out, b))
        ):
            routine(
                _ROW_MAJOR, layout_a[0], layout_b[0], m, n, k,
                alpha, a.ctypes.data, layout_a[1], b.ctypes.data, layout_b[1],
                beta, out.ctypes.data, layout_out[1],
            )
            return out
    return _numpy_gemm(a, b, out, alpha, beta)


def _vector_routine(name: str, x: np.ndarray, y: np.ndarray) -> Optional[Any]:
    """The cblas routine for an elementwise x -> y call, or None when NumPy must do it."""
    if x.shape != y.shape:
        raise ValueError(f"{name} needs one shape, got {x.shape} and {y.shape}")
    if y.size < MIN_AXPY_SIZE or not y.size:
        return None
    routine = _routine(name, y.dtype)
    if (
        routine is not None
        and x.dtype == y.dtype
        and x.flags.c_contiguous
        and y.flags.c_contiguous
        and x.flags.aligned
        and y.flags.aligned
        and y.dtype.isnative
        and y.flags.writeable
        and not np.may_share_memory(x, y)
    ):
        return routine
    return None


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """y += alpha · x, in place: x and y of one shape and dtype; returns y."""
    routine = _vector_routine("axpy", x, y)
    if routine is not None:
        routine(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
        return y
    if alpha == 1.0:
        y += x
    else:
        y += x * y.dtype.type(alpha)
    return y


def axpby(alpha: float, x: np.ndarray, beta: float, y: np.ndarray) -> np.ndarray:
    """y = alpha · x + beta · y, in place, one pass over memory (NumPy takes two): x and y of one
    shape and dtype; returns y."""
    routine = _vector_routine("axpby", x, y)
    if routine is not None:
        routine(y.size, alpha, x.ctypes.data, 1, beta, y.ctypes.data, 1)
        return y
    scaled = x * y.dtype.type(alpha) if alpha != 1.0 or np.may_share_memory(x, y) else x
    if beta != 1.0:
        y *= y.dtype.type(beta)
    y += scaled
    return y


def affine(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x @ W + b, a new array: x (N, D), W (D, H), b (H,). Big products start from b in every row
    and let the GEMM add x @ W (beta = 1): no separate pass for the bias."""
    m, k = x.shape
    n = W.shape[1]
    out_dtype = np.result_type(x, W, b)
    if m * n * k < MIN_GEMM_MACS or _routine("gemm", out_dtype) is None:
        out = np.matmul(x, W)
        out += b
        return out
    out = np.empty((m, n), dtype=out_dtype)
    out[...] = b
    return gemm(x, W, out, 1.0, 1.0)
