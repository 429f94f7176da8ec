"""Every gate of the op table over arrays: its VJP against central differences (broadcasting
included, float64), and Jᵀ·g == VJP with the Jacobian formed explicitly at small sizes."""

from __future__ import annotations

import numpy as np
import pytest

from bpcli.expr.interpret import vjp
from bpcli.expr.ops import OPS
from bpcli.expr.tensor_ops import elementwise_nonzeros

H = 1e-6

BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3), ()), ((4,), (2, 3, 4))]
UNARY_SHAPES = [(3, 4), (5,), ()]

# (input shapes, keyword options, which inputs hold integer labels) for the gates that mix entries
TENSOR_CASES = {
    "matmul": [(((3, 4), (4, 5)), {}), (((3, 4), (4,)), {}), (((4,), (4, 5)), {}), (((4,), (4,)), {}),
               (((2, 3, 4), (4, 5)), {}), (((3, 4), (2, 4, 2)), {})],
    "transpose": [(((3, 4),), {}), (((2, 3, 4),), {}), (((5,),), {})],
    "sum": [(((3, 4),), {}), (((3, 4),), {"axis": 0}), (((3, 4),), {"axis": 1}),
            (((2, 3, 4),), {"axis": -1, "keepdims": 1})],
    "mean": [(((3, 4),), {}), (((3, 4),), {"axis": 1}), (((2, 3, 4),), {"axis": 0, "keepdims": 1})],
    "reduce_max": [(((3, 4),), {}), (((3, 4),), {"axis": 1}), (((3, 4),), {"axis": -1, "keepdims": 1})],
    "reduce_min": [(((3, 4),), {}), (((3, 4),), {"axis": 0})],
    "index": [(((5, 4), "labels5of4"), {}), (((5, 4), "int2"), {}), (((6,), "labels3of6"), {})],
    "softmax": [(((3, 4),), {}), (((5,),), {})],
    "logsumexp": [(((3, 4),), {}), (((5,),), {})],
}


def _cases():
    for name, op in OPS.items():
        if op.tensor_only:
            for shapes, options in TENSOR_CASES[name]:
                yield pytest.param(name, shapes, options, id=f"{name}-{shapes}-{options}")
        elif op.arity == 1:
            for shape in UNARY_SHAPES:
                yield pytest.param(name, (shape,), {}, id=f"{name}-{shape}")
        elif op.arity == 2:
            for pair in BROADCAST_PAIRS:
                yield pytest.param(name, pair, {}, id=f"{name}-{pair}")
        else:
            yield pytest.param(name, ((2, 3), (3,), (2, 1)), {}, id=f"{name}-variadic")


def test_every_tensor_gate_has_cases():
    """Registering a tensor gate without test cases fails here (elementwise ones get theirs)."""
    assert {name for name, op in OPS.items() if op.tensor_only} == set(TENSOR_CASES)


def _arguments(name, shapes, rng):
    op = OPS[name]
    args = []
    for k, shape in enumerate(shapes):
        if isinstance(shape, str):  # an integer index: labels<N>of<C> or int<k>
            if shape.startswith("labels"):
                count, classes = (int(p) for p in shape[len("labels"):].split("of"))
                args.append(rng.integers(0, classes, size=count).astype(np.int64))
            else:
                args.append(np.array(int(shape[3:])))
            continue
        if op.tensor_only:
            args.append(rng.standard_normal(shape))
            continue
        low, high = op.domain[min(k, len(op.domain) - 1)]
        value = rng.uniform(low, high, size=shape)
        if op.kink is not None:  # keep clear of the corner, where no derivative exists
            value = np.where(np.abs(value) < 0.05, value + 0.2, value)
        args.append(np.asarray(value, dtype=float))
    return args


def _differentiable(name, args):
    return [k for k, a in enumerate(args) if a.dtype.kind == "f" and not (OPS[name].vjps and OPS[name].vjps[k] is None)]


def _numeric_vjp(op, args, options, position, g):
    x = args[position]
    out = np.zeros(x.shape)
    for j in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus.flat[j] += H
        minus.flat[j] -= H
        f_plus = op.np_forward(*[plus if k == position else a for k, a in enumerate(args)], **options)
        f_minus = op.np_forward(*[minus if k == position else a for k, a in enumerate(args)], **options)
        out.flat[j] = np.sum((np.asarray(f_plus) - np.asarray(f_minus)) * g) / (2 * H)
    return out


@pytest.mark.parametrize("name, shapes, options", list(_cases()))
def test_vjp_matches_central_differences(name, shapes, options):
    op = OPS[name]
    rng = np.random.default_rng(sum(map(ord, name)) + len(shapes))
    args = _arguments(name, shapes, rng)
    out = np.asarray(op.np_forward(*args, **options))
    g = rng.standard_normal(out.shape)
    for position in _differentiable(name, args):
        sent, _ = vjp(op, position, g, args, out, options)
        assert np.shape(sent) == args[position].shape, (name, position)
        numeric = _numeric_vjp(op, args, options, position, g)
        np.testing.assert_allclose(sent, numeric, rtol=1e-6, atol=1e-8, err_msg=f"{name} input {position}")


def _explicit_jacobian(op, args, options, position):
    """J[o, i] = ∂out_o/∂x_i by central differences of the forward, one column per entry."""
    x = args[position]
    columns = []
    for j in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus.flat[j] += H
        minus.flat[j] -= H
        f_plus = np.asarray(op.np_forward(*[plus if k == position else a for k, a in enumerate(args)], **options))
        f_minus = np.asarray(op.np_forward(*[minus if k == position else a for k, a in enumerate(args)], **options))
        columns.append(((f_plus - f_minus) / (2 * H)).reshape(-1))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("name, shapes, options", list(_cases()))
def test_jacobian_transpose_times_upstream_is_the_vjp_and_nonzeros_are_counted(name, shapes, options):
    op = OPS[name]
    rng = np.random.default_rng(7 + len(name))
    args = _arguments(name, shapes, rng)
    out = np.asarray(op.np_forward(*args, **options))
    for position in _differentiable(name, args):
        jacobian = _explicit_jacobian(op, args, options, position)
        assert jacobian.shape == (out.size, args[position].size)
        for _ in range(3):  # linear in the upstream gradient
            g = rng.standard_normal(out.shape)
            sent, local = vjp(op, position, g, args, out, options)
            np.testing.assert_allclose(jacobian.T @ g.reshape(-1), np.reshape(sent, -1), rtol=1e-6, atol=1e-8)
        if op.nonzeros is not None:
            counted = op.nonzeros(position, args, out, **options)
        else:
            counted = elementwise_nonzeros(local, out.shape)
        assert counted == np.count_nonzero(np.abs(jacobian) > 1e-7), (name, position)
