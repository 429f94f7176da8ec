"""The tensor gates of the op table: `@`, `.T`, sum/mean/max/min reductions, `s[y]`, softmax
and logsumexp, each with its vector-Jacobian products (never the Jacobian itself), the VJP's
formula text, the number of nonzero Jacobian entries, and a shape check with the rule.

NumPy is imported lazily (through `ops.np`), so registering these costs `trace` of scalars nothing.
"""

from __future__ import annotations

from typing import Any, Optional

from bpcli.expr.ops import FUNCTION, INFIX, POSTFIX, Op, np, register

INDEX = "index"  # written s[i]


def shape_text(shape: tuple) -> str:
    """(3, 4) as "(3,4)", a vector as "(3,)", a scalar as "()"."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ",".join(str(n) for n in shape) + ")"


def unbroadcast(g, shape: tuple):
    """Sum `g` over the axes along which an input of `shape` was broadcast (the VJP of broadcasting)."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(k for k, n in enumerate(shape) if n == 1 and g.shape[k] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


def broadcast_axes(in_shape: tuple, out_shape: tuple) -> tuple:
    """The axes of `out_shape` an input of `in_shape` was stretched or repeated along."""
    extra = len(out_shape) - len(in_shape)
    axes = list(range(extra))
    axes += [extra + k for k, n in enumerate(in_shape) if n == 1 and out_shape[extra + k] != 1]
    return tuple(axes)


# ---- matrix product -----------------------------------------------------------------------


def _as_matrices(a, b):
    """a, b as at least 2-D operands of `@` (NumPy's rule: a vector on the left is a row,
    on the right a column)."""
    return (a[None, :] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)


def _product_grad(g, a, b):
    """g reshaped to the 2-D product of `_as_matrices(a, b)` (the vector axes put back)."""
    g = np.asarray(g)
    if b.ndim == 1:
        g = g[..., None]
    if a.ndim == 1:
        g = g[..., None, :]
    return g


def _matmul_vjp_left(g, a, b, out):
    a2, b2 = _as_matrices(a, b)
    d = _product_grad(g, a, b) @ np.swapaxes(b2, -1, -2)
    return unbroadcast(d, a2.shape).reshape(a.shape)


def _matmul_vjp_right(g, a, b, out):
    a2, b2 = _as_matrices(a, b)
    d = np.swapaxes(a2, -1, -2) @ _product_grad(g, a, b)
    return unbroadcast(d, b2.shape).reshape(b.shape)


def _matmul_formula(names, shapes, options):
    (x, y), (sx, sy) = names, shapes
    if len(sx) == 1 and len(sy) == 1:
        return f"dout · {y}", f"dout · {x}"
    if len(sy) == 1:
        return f"dout ⊗ {y}", f"{x}ᵀ @ dout"
    if len(sx) == 1:
        return f"{y} @ dout", f"{x} ⊗ dout"
    return f"dout @ {y}ᵀ", f"{x}ᵀ @ dout"


def _matmul_nonzeros(position, args, out, **options) -> int:
    """∂(a@b)[i,l]/∂a[i,j] = b[j,l]: (rows of a) × nnz(b) per batch; likewise for b."""
    a, b = args
    a2, b2 = _as_matrices(a, b)
    batch = out.shape[: max(0, out.ndim - 2)] if a.ndim > 2 or b.ndim > 2 else ()
    if position == 0:
        return int(a2.shape[-2] * np.count_nonzero(np.broadcast_to(b2, batch + b2.shape[-2:])))
    return int(b2.shape[-1] * np.count_nonzero(np.broadcast_to(a2, batch + a2.shape[-2:])))


def _matmul_check(shapes, options) -> Optional[str]:
    sx, sy = shapes
    if not sx or not sy:
        return "a scalar has no matrix product: use * to scale"
    inner_x, inner_y = sx[-1], (sy[0] if len(sy) == 1 else sy[-2])
    if inner_x != inner_y:
        return f"the inner sizes {inner_x} and {inner_y} differ"
    try:
        np.broadcast_shapes(sx[:-2], sy[:-2])
    except ValueError:
        return f"the batch shapes {shape_text(sx[:-2])} and {shape_text(sy[:-2])} do not broadcast"
    return None


# ---- reductions -------------------------------------------------------------------------------


def _axis(options) -> Optional[int]:
    return options.get("axis")


def _spread(g, x, axis, keepdims):
    """g (the reduced shape) broadcast back over the axis it was reduced along."""
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, x.shape)


def _count(x, axis) -> int:
    return x.size if axis is None else x.shape[axis]


def _reduce_check(shapes, options) -> Optional[str]:
    (shape,) = shapes
    axis = options.get("axis")
    if axis is not None and not -len(shape) <= axis < len(shape):
        return f"axis {axis} is out of range for a {len(shape)}-D input (axes 0..{len(shape) - 1})" if shape else (
            f"axis {axis} is out of range: the input is a scalar"
        )
    return None


def _reduced_over(options) -> str:
    axis = options.get("axis")
    if axis is None:
        return "to every entry"
    return {-1: "along the last axis"}.get(axis, f"along axis {axis}")


def _sum_formula(names, shapes, options):
    return (f"dout copied {_reduced_over(options)}",)


def _mean_formula(names, shapes, options):
    return (f"dout / N copied {_reduced_over(options)}",)


def _first_winner_mask(x, axis, larger: bool):
    """1 at the first maximal (minimal) entry along `axis` (every entry if None), 0 elsewhere."""
    pick = np.argmax if larger else np.argmin
    mask = np.zeros(x.shape, dtype=float)
    if axis is None:
        mask.flat[pick(x)] = 1.0
        return mask
    index = np.expand_dims(pick(x, axis=axis), axis)
    np.put_along_axis(mask, index, 1.0, axis=axis)
    return mask


def _chooser_formula(names, shapes, options):
    return (f"dout routed to the winner {_reduced_over(options).replace('to every entry', 'of all entries')}, 0 elsewhere",)


def _np_sum(x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=bool(keepdims))


def _np_mean(x, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=bool(keepdims))


def _np_max(x, axis=None, keepdims=False):
    return np.max(x, axis=axis, keepdims=bool(keepdims))


def _np_min(x, axis=None, keepdims=False):
    return np.min(x, axis=axis, keepdims=bool(keepdims))


# ---- indexing ---------------------------------------------------------------------------------


def gather(s, index):
    """s[i] for an integer i (a row, NumPy's rule), or s[y] with one label per row of a 2-D s."""
    index = np.asarray(index)
    if index.ndim == 1 and s.ndim == 2:
        return s[np.arange(s.shape[0]), index.astype(np.intp)]
    return s[index.astype(np.intp)]


def _index_vjp(g, s, index, out):
    d = np.zeros(s.shape, dtype=np.result_type(g, float))
    index = np.asarray(index)
    if index.ndim == 1 and s.ndim == 2:
        np.add.at(d, (np.arange(s.shape[0]), index.astype(np.intp)), g)
    else:
        np.add.at(d, index.astype(np.intp), g)
    return d


def _index_formula(names, shapes, options):
    i, (ss, si) = names[1], shapes
    if len(si) == 1 and len(ss) == 2:
        return (f"dout scattered into zeros{shape_text(ss)} at [n, {i}[n]]", "")
    return (f"dout scattered into zeros{shape_text(ss)} at [{i}]", "")


def _index_check(shapes, options) -> Optional[str]:
    ss, si = shapes
    if not ss:
        return "a scalar cannot be indexed"
    if len(si) == 1 and len(ss) == 2 and si[0] != ss[0]:
        return f"a label vector needs one label per row: {si[0]} labels for {ss[0]} rows"
    if len(si) > 1:
        return f"the index must be an integer or a vector of labels, got shape {shape_text(si)}"
    return None


def check_index_values(s, index) -> Optional[str]:
    """Integer-valued labels in range, or what is wrong with them."""
    index = np.asarray(index)
    if index.size and not np.all(np.isfinite(index)):
        return "the index must be integers, got nan/inf"
    if index.size and not np.array_equal(index, np.round(index)):
        return "the index must be integers (labels 0, 1, 2, ...), got a fraction"
    size = s.shape[1] if (index.ndim == 1 and s.ndim == 2) else s.shape[0]
    if index.size and (index.min() < -size or index.max() >= size):
        bad = index.max() if index.max() >= size else index.min()
        return f"index {int(bad)} is out of range for an axis of size {size}"
    return None


# ---- softmax and logsumexp over the last axis ------------------------------------------------


def _np_softmax(x):
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def _np_logsumexp(x):
    m = np.max(x, axis=-1, keepdims=True)
    return np.squeeze(m, -1) + np.log(np.sum(np.exp(x - m), axis=-1))


def _softmax_vjp(g, x, out):
    return out * (g - np.sum(g * out, axis=-1, keepdims=True))


def _logsumexp_vjp(g, x, out):
    return np.expand_dims(g, -1) * _np_softmax(x)


def _softmax_nonzeros(position, args, out, **options) -> int:
    """Per row J = diag(p) - p pᵀ: off-diagonal p_i p_j, diagonal p_i (1 - p_i)."""
    p = out.reshape(-1, out.shape[-1]) if out.ndim else out.reshape(1, 1)
    positive = np.count_nonzero(p, axis=-1)
    diagonal = np.count_nonzero(p * (1 - p), axis=-1)
    return int(np.sum(positive * (positive - 1) + diagonal))


def _expand_softmax(builder, x: int) -> int:
    """softmax(x) = e / sum(e) with e = exp(x - max(x)) along the last axis."""
    top = builder.gate("reduce_max", (x,), options={"axis": -1, "keepdims": True})
    e = builder.gate("exp", (builder.gate("sub", (x, top)),))
    total = builder.gate("sum", (e,), options={"axis": -1, "keepdims": True})
    return builder.gate("div", (e, total))


def _expand_logsumexp(builder, x: int) -> int:
    """logsumexp(x) = log(sum(exp(x - m))) + m with m = max(x) along the last axis."""
    top = builder.gate("reduce_max", (x,), options={"axis": -1, "keepdims": True})
    e = builder.gate("exp", (builder.gate("sub", (x, top)),))
    total = builder.gate("sum", (e,), options={"axis": -1})
    return builder.gate("add", (builder.gate("log", (total,)), builder.gate("reduce_max", (x,), options={"axis": -1})))


def _size_nonzeros(position, args, out, **options) -> int:
    return int(np.size(args[position]))


def _out_size_nonzeros(position, args, out, **options) -> int:
    return int(np.size(out))


def _last_axis_check(shapes, options) -> Optional[str]:
    (shape,) = shapes
    return None if shape else "it works along the last axis: give it a vector or a matrix"


_REDUCE = ("axis", "keepdims")

# fmt: off
register(Op(
    "matmul", np_forward=lambda a, b: np.matmul(a, b),
    vjps=(_matmul_vjp_left, _matmul_vjp_right), vjp_formula=_matmul_formula,
    role="switches: each input gets the other input, transposed, times the upstream gradient",
    kind=INFIX, symbol="@", precedence=2, nonzeros=_matmul_nonzeros, check_shapes=_matmul_check,
))
register(Op(
    "transpose", np_forward=lambda x: np.transpose(x),
    vjps=(lambda g, x, out: np.transpose(g),), vjp_formula=lambda n, s, o: ("doutᵀ",),
    role="transposes: the upstream gradient, transposed back", gate_label="ᵀ",
    kind=POSTFIX, symbol=".T", precedence=10, nonzeros=_size_nonzeros,
))
register(Op(
    "sum", np_forward=_np_sum,
    vjps=(lambda g, x, out, axis=None, keepdims=False: _spread(g, x, axis, keepdims),),
    vjp_formula=_sum_formula, role="copies: the gradient to every entry it summed",
    kind=FUNCTION, keywords=_REDUCE, nonzeros=_size_nonzeros, check_shapes=_reduce_check,
))
register(Op(
    "mean", np_forward=_np_mean,
    vjps=(lambda g, x, out, axis=None, keepdims=False: _spread(g, x, axis, keepdims) / _count(x, axis),),
    vjp_formula=_mean_formula, role="copies: the gradient / N to every entry it averaged",
    kind=FUNCTION, keywords=_REDUCE, nonzeros=_size_nonzeros, check_shapes=_reduce_check,
))
register(Op(
    "reduce_max", call="max", np_forward=_np_max,
    vjps=(lambda g, x, out, axis=None, keepdims=False: _spread(g, x, axis, keepdims) * _first_winner_mask(x, axis, True),),
    vjp_formula=_chooser_formula, role="routes: the gradient to the largest entry", routes=True,
    kind=FUNCTION, keywords=_REDUCE, nonzeros=_out_size_nonzeros, check_shapes=_reduce_check,
    np_kink=lambda a, axis=None, keepdims=False: np.argmax(a[0], axis=axis),
))
register(Op(
    "reduce_min", call="min", np_forward=_np_min,
    vjps=(lambda g, x, out, axis=None, keepdims=False: _spread(g, x, axis, keepdims) * _first_winner_mask(x, axis, False),),
    vjp_formula=_chooser_formula, role="routes: the gradient to the smallest entry", routes=True,
    kind=FUNCTION, keywords=_REDUCE, nonzeros=_out_size_nonzeros, check_shapes=_reduce_check,
    np_kink=lambda a, axis=None, keepdims=False: np.argmin(a[0], axis=axis),
))
register(Op(
    "index", np_forward=gather, vjps=(_index_vjp, None), vjp_formula=_index_formula,
    role="scatters: the gradient back to the entries it picked, zeros elsewhere",
    kind=INDEX, symbol="[]", precedence=10, gate_label="[ ]", nonzeros=_out_size_nonzeros,
    check_shapes=_index_check,
))
register(Op(
    "softmax", np_forward=_np_softmax, vjps=(_softmax_vjp,),
    vjp_formula=lambda n, s, o: ("out ⊙ (dout - Σ(dout ⊙ out))",),
    role="mixes: every output of a row depends on every input of that row",
    expansion=_expand_softmax, nonzeros=_softmax_nonzeros, check_shapes=_last_axis_check,
))
register(Op(
    "logsumexp", np_forward=_np_logsumexp, vjps=(_logsumexp_vjp,),
    vjp_formula=lambda n, s, o: (f"dout ⊗ softmax({n[0]}) (per row)",),
    role="softens max: each input of a row gets dout × its softmax weight",
    expansion=_expand_logsumexp, nonzeros=lambda p, a, out, **o: int(np.count_nonzero(_np_softmax(a[0]))),
    check_shapes=_last_axis_check,
))
# fmt: on


def elementwise_nonzeros(local: Any, out_shape: tuple) -> int:
    """An elementwise gate's Jacobian is diagonal (each output reads one entry of each input):
    its nonzeros are the nonzero local partials, one per output entry."""
    return int(np.count_nonzero(np.broadcast_to(local, out_shape)))
