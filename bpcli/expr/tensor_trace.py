"""`trace` with vectors and matrices: forward with shapes, backward as vector-Jacobian products.

Runs the same graph and interpreter as the scalar trace, with the op table's NumPy column.
Each backward step records, for every input, the VJP used (its formula in the operands'
names), the size of the Jacobian it never forms (and its nonzeros), and, when asked and small
enough, the Jacobian itself formed by central differences with the check Jᵀ·upstream = VJP.
Renderers read a TensorTraceReport; they never compute gradients.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from bpcli.errors import ExprError, UsageError
from bpcli.expr.formulas import vjp_formula
from bpcli.expr.graph import CONSTANT, VARIABLE, ExprGraph
from bpcli.expr.interpret import NUMPY, backward, forward
from bpcli.expr.ops import OPS
from bpcli.expr.tensor_ops import check_index_values, elementwise_nonzeros, shape_text
from bpcli.expr.values import TENSOR_VALUES, TensorContext, as_tensor

JACOBIAN_LIMIT = 4096  # --jacobian forms Jacobians with at most this many entries
SMALL = 64  # tensors up to this size are checked entry by entry
SAMPLED = 16  # entries checked by central differences in a larger tensor
CHECK_BUDGET = 50_000_000  # entry evaluations the central-difference check may spend
DRAW_RANGE = (-3.0, 3.0)


class Jacobian:
    """∂(gate output)/∂(one input): its shape and nonzeros, never formed unless `--jacobian`."""

    __slots__ = ("out_shape", "in_shape", "entries", "nonzeros", "matrix", "max_error")

    def __init__(self, out_shape: tuple, in_shape: tuple, nonzeros: int):
        self.out_shape, self.in_shape, self.nonzeros = out_shape, in_shape, nonzeros
        self.entries = int(np.prod(out_shape, dtype=np.int64)) * int(np.prod(in_shape, dtype=np.int64))
        self.matrix: Optional[np.ndarray] = None  # (out entries, in entries) when formed
        self.max_error: Optional[float] = None  # relative |Jᵀ·upstream - VJP| when formed


class TensorInputStep:
    """What one gate sent to one input: the VJP (array and formula), the += at a fork."""

    __slots__ = ("node", "position", "sent", "accumulated", "total", "formula", "jacobian")

    def __init__(self, node, position, sent, accumulated, total, formula, jacobian):
        self.node, self.position, self.sent = node, position, sent
        self.accumulated, self.total = accumulated, total
        self.formula = formula  # "dW = dout ⊗ x"
        self.jacobian = jacobian

    @property
    def shape_ok(self) -> bool:
        return self.sent.shape == self.jacobian.in_shape


class TensorStep:
    __slots__ = ("node", "upstream", "inputs")

    def __init__(self, node: int, upstream: np.ndarray, inputs: list[TensorInputStep]):
        self.node, self.upstream, self.inputs = node, upstream, inputs


class TensorCheck:
    """Backprop's gradient of one variable beside central differences at some of its entries."""

    __slots__ = ("name", "analytic", "indices", "numeric", "rel_error", "at_kink", "sampled")

    def __init__(self, name, analytic, indices, numeric, rel_error, at_kink, sampled):
        self.name, self.analytic, self.indices, self.numeric = name, analytic, indices, numeric
        self.rel_error, self.at_kink, self.sampled = rel_error, at_kink, sampled

    @property
    def status(self) -> str:
        if not (np.all(np.isfinite(self.analytic)) and np.all(np.isfinite(self.numeric))):
            return "nan/inf"
        if self.rel_error <= 1e-5:
            return "ok"
        return "kink" if self.at_kink else "MISMATCH"


class TensorTraceReport:
    """The result of tracing an expression at tensor values (what every tensor renderer reads)."""

    tensor = True

    def __init__(self, expression, graph, values, grads, steps, inputs, labels, drawn, seed,
                 expanded, dout_given, checks, notes, warnings, jacobian_limit):
        self.expression, self.graph = expression, graph
        self.values, self.grads, self.steps = values, grads, steps  # per node; in backward order
        self.inputs: dict[str, np.ndarray] = inputs
        self.labels: set[str] = labels  # variables used as labels s[y]: integers, no gradient
        self.drawn, self.seed, self.expanded = drawn, seed, expanded
        self.dout_given = dout_given  # False: the output's upstream gradient is ones
        self.checks: Optional[list[TensorCheck]] = checks
        self.notes: list[str] = notes
        self.warnings: list[str] = warnings
        self.jacobian_limit = jacobian_limit  # None: --jacobian was not asked for

    @property
    def output(self) -> np.ndarray:
        return self.values[self.graph.output]

    @property
    def gradients(self) -> dict[str, np.ndarray]:
        return {name: self.grads[i] for name, i in self.graph.variable_ids.items() if name not in self.labels}

    @property
    def uses(self) -> dict[str, int]:
        """How many gate inputs each variable feeds (2+ means its gradient is a sum)."""
        from bpcli.expr.report import variable_uses

        return variable_uses(self.graph)


def label_variables(graph: ExprGraph) -> set[str]:
    """Variables used as an index, s[y]: integer labels that get no gradient."""
    names = set()
    for node in graph.nodes:
        if node.op == "index":
            child = graph.nodes[node.inputs[1]]
            if child.op == VARIABLE:
                names.add(child.name)
    return names


def resolve_tensor_inputs(graph: ExprGraph, assignments, seed: int):
    """({name: float64 array}, drawn names, label names): given values (numbers, lists,
    constructors, files), then seeded 2-decimal scalar draws for the rest."""
    from bpcli.expr.report import check_assignment

    labels = label_variables(graph)
    given: dict[str, np.ndarray] = {}
    for name, text in assignments:
        check_assignment(graph, name, given)
        if not isinstance(text, str):  # from Python: bpcli.trace("W@x", W=np.ones((2, 3)), ...)
            given[name] = as_tensor(name, text)
        else:
            given[name] = np.array(TENSOR_VALUES.parse(name, text, TensorContext(seed, graph.variables.index(name))))
    inputs: dict[str, np.ndarray] = {}
    drawn: list[str] = []
    rng = None
    for name in graph.variables:
        if name in given:
            inputs[name] = given[name]
        else:
            if rng is None:
                import random

                rng = random.Random(seed)
            inputs[name] = np.array(round(rng.uniform(*DRAW_RANGE), 2))
            drawn.append(name)
    return inputs, drawn, labels


def _gate_text(graph: ExprGraph, node_id: int) -> str:
    from bpcli.expr.printer import short_texts

    return short_texts(graph, 30)[node_id]


def _shape_checker(graph: ExprGraph):
    """on_gate for the interpreter: a gate whose input shapes do not fit is an ExprError at its
    operator, naming the gate, both shapes and the rule."""

    def check(node, args):
        op = OPS[node.op]
        shapes = [np.shape(a) for a in args]
        problem = None
        if op.check_shapes is not None:
            problem = op.check_shapes(shapes, node.options)
            if problem is None and node.op == "index":
                problem = check_index_values(args[0], args[1])
        elif len(args) > 1:
            try:
                np.broadcast_shapes(*shapes)
            except ValueError:
                problem = _broadcast_problem(shapes)
        if problem is not None:
            joined = f" {op.symbol} ".join(shape_text(s) for s in shapes) if op.kind == "infix" else (
                ", ".join(shape_text(s) for s in shapes)
            )
            raise ExprError(f"{_gate_text(graph, node.id)}: {joined}: {problem}", graph.text, node.column)

    return check


def _broadcast_problem(shapes: list[tuple]) -> str:
    longest = max(len(s) for s in shapes)
    for k in range(1, longest + 1):
        sizes = {s[-k] for s in shapes if len(s) >= k} - {1}
        if len(sizes) > 1:
            a, b = sorted(sizes)[:2]
            return f"the shapes do not broadcast: sizes {a} and {b} differ at axis -{k} (each must match or be 1)"
    return "the shapes do not broadcast"


def _leaves(inputs: dict):
    def leaf(node):
        if node.op == VARIABLE:
            return inputs[node.name]
        return np.array(node.constant)

    return leaf


def tensor_forward(graph: ExprGraph, inputs: dict, check: bool = True) -> list:
    with np.errstate(all="ignore"):
        return forward(graph, _leaves(inputs), NUMPY, on_gate=_shape_checker(graph) if check else None)


def _needs(graph: ExprGraph, labels: set[str]) -> list[bool]:
    return [
        node.op != CONSTANT and not (node.op == VARIABLE and node.name in labels) for node in graph.nodes
    ]


def _objective(graph: ExprGraph, inputs: dict, dout: np.ndarray) -> float:
    """Σ f ⊙ dout: the scalar whose gradient backprop computes (dout = ones: the sum of f)."""
    return float(np.sum(tensor_forward(graph, inputs, check=False)[graph.output] * dout))


def trace_tensors(
    graph: ExprGraph,
    text: str,
    assignments: list[tuple[str, str]],
    *,
    seed: int = 0,
    expand: bool = False,
    check: bool = True,
    dout: Optional[str] = None,
    jacobian_limit: Optional[int] = None,
) -> TensorTraceReport:
    """Forward with shapes, backward with a recorded VJP per gate input, central-difference checks."""
    inputs, drawn, labels = resolve_tensor_inputs(graph, assignments, seed)
    for name in labels:
        inputs[name] = _as_labels(name, inputs[name])
    if expand:
        graph = graph.expanded()
    values = tensor_forward(graph, inputs)
    out = np.asarray(values[graph.output])
    seed_grad = np.ones(out.shape)
    if dout is not None:
        seed_grad = np.array(TENSOR_VALUES.parse("--dout", dout, TensorContext(seed, len(graph.variables))))
        if seed_grad.shape != out.shape:
            raise UsageError(
                f"--dout has shape {shape_text(seed_grad.shape)} but f has shape {shape_text(out.shape)}: "
                "the upstream gradient of f has f's shape"
            )
    needs = _needs(graph, labels)
    with np.errstate(all="ignore"):
        grads, raw_steps = backward(graph, values, seed_grad, NUMPY, record=True, needs=needs)
        steps = [_describe(graph, values, step, jacobian_limit) for step in raw_steps]
    notes: list[str] = []
    checks = None
    if check:
        checks = central_differences(graph, inputs, grads, seed_grad, labels, seed, notes)
    warnings = tensor_warnings(graph, values)
    return TensorTraceReport(text, graph, values, grads, steps, inputs, labels, drawn, seed, expand,
                             dout is not None, checks, notes, warnings, jacobian_limit)


def _as_labels(name: str, value: np.ndarray) -> np.ndarray:
    if value.ndim > 1:
        raise UsageError(f"label vector '{name}' must be a number or a vector, got shape {shape_text(value.shape)}")
    if not np.array_equal(value, np.round(value)):
        raise UsageError(f"label vector '{name}' must be integers (class ids 0, 1, 2, ...), got {value.tolist()}")
    return value.astype(np.int64)


def _describe(graph: ExprGraph, values: list, step, jacobian_limit: Optional[int]) -> TensorStep:
    node = graph.nodes[step.node]
    op = OPS[node.op]
    args = [values[i] for i in node.inputs]
    out = np.asarray(values[node.id])
    shapes = [np.shape(a) for a in args]
    described = []
    for s in step.inputs:
        if op.nonzeros is not None:
            nonzeros = op.nonzeros(s.position, args, out, **node.options)
        else:
            nonzeros = elementwise_nonzeros(s.local, out.shape)
        jacobian = Jacobian(out.shape, shapes[s.position], nonzeros)
        if jacobian_limit is not None and jacobian.entries <= jacobian_limit:
            _form_jacobian(jacobian, op, node, args, s.position, step.upstream, s.sent)
        formula = vjp_formula(graph, step.node, s.position, shapes, out.shape)
        described.append(
            TensorInputStep(s.node, s.position, np.asarray(s.sent), s.accumulated, np.asarray(s.total), formula, jacobian)
        )
    return TensorStep(step.node, np.asarray(step.upstream), described)


def _form_jacobian(jacobian: Jacobian, op, node, args, position: int, upstream, sent) -> None:
    """J by central differences of the gate's own forward (h = 1e-6), and |Jᵀ·upstream - VJP|."""
    x = np.array(args[position], dtype=float)
    columns = []
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x.flat[j]))
        plus, minus = x.copy(), x.copy()
        plus.flat[j] += h
        minus.flat[j] -= h
        f_plus = np.asarray(op.np_forward(*_replaced(args, position, plus), **node.options))
        f_minus = np.asarray(op.np_forward(*_replaced(args, position, minus), **node.options))
        columns.append(((f_plus - f_minus) / (2 * h)).reshape(-1))
    matrix = np.stack(columns, axis=1) if columns else np.zeros((int(np.prod(jacobian.out_shape)), 0))
    jacobian.matrix = np.round(matrix, 8)  # central differences of exact 3 show 3, not 2.99999999
    product = matrix.T @ np.asarray(upstream, dtype=float).reshape(-1)
    vjp = np.asarray(sent, dtype=float).reshape(-1)
    scale = max(float(np.max(np.abs(product), initial=0.0)), float(np.max(np.abs(vjp), initial=0.0)), 1e-12)
    jacobian.max_error = float(np.max(np.abs(product - vjp), initial=0.0)) / scale


def _replaced(args, position, value):
    return [value if k == position else a for k, a in enumerate(args)]


def kink_states(graph: ExprGraph, values: list) -> list:
    """Which side of its kink every relu/abs/max/min gate is on (arrays, in node order)."""
    sides = []
    for node in graph.nodes:
        op = OPS.get(node.op)
        if node.inputs and op is not None and op.np_kink is not None:
            sides.append(np.asarray(op.np_kink([np.asarray(values[i]) for i in node.inputs], **node.options)))
    return sides


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def central_differences(graph, inputs, grads, dout, labels, seed, notes) -> list[TensorCheck]:
    """Backprop against (F(v+h) - F(v-h))/2h with F = Σ f ⊙ dout: every entry of a small
    tensor, a seeded sample of SAMPLED entries of a larger one."""
    rng = np.random.default_rng(seed)
    cost_per_forward = sum(int(np.size(v)) for v in tensor_forward(graph, inputs, check=False)) or 1
    checks = []
    base_kinks = None
    for name in graph.variables:
        if name in labels:
            continue
        value = inputs[name]
        analytic = np.asarray(grads[graph.variable_ids[name]], dtype=float)
        sampled = value.size > SMALL
        if sampled:
            flat = np.sort(rng.choice(value.size, size=SAMPLED, replace=False))
        else:
            flat = np.arange(value.size)
        if 2 * len(flat) * cost_per_forward > CHECK_BUDGET:
            notes.append(f"numerical check of {name} skipped: too many evaluations")
            continue
        numeric = np.empty(len(flat))
        worst, at_kink = 0.0, False
        for k, j in enumerate(flat):
            v = value.flat[j]
            h = 1e-5 * max(1.0, abs(v))
            plus = dict(inputs)
            minus = dict(inputs)
            plus[name], minus[name] = value.copy(), value.copy()
            plus[name].flat[j] = v + h
            minus[name].flat[j] = v - h
            numeric[k] = (_objective(graph, plus, dout) - _objective(graph, minus, dout)) / (2 * h)
            a, n = analytic.flat[j], numeric[k]
            scale = max(abs(a), abs(n))
            rel = 0.0 if scale == 0 else abs(a - n) / scale
            if not (np.isfinite(a) and np.isfinite(n)):
                rel = float("nan")
            if rel > 1e-5 and not at_kink:
                if base_kinks is None:
                    base_kinks = kink_states(graph, tensor_forward(graph, inputs, check=False))
                kp = kink_states(graph, tensor_forward(graph, plus, check=False))
                km = kink_states(graph, tensor_forward(graph, minus, check=False))
                at_kink = not (_same(kp, km) and _same(kp, base_kinks))
            worst = rel if (rel != rel or rel > worst) else worst
        indices = [tuple(int(i) for i in np.unravel_index(j, value.shape)) for j in flat]
        checks.append(TensorCheck(name, analytic, indices, numeric, worst, at_kink, sampled))
    return checks


def tensor_warnings(graph: ExprGraph, values: list, limit: int = 20) -> list[str]:
    """One line per gate where nan/inf starts: its inputs were finite, its result is not."""
    found = []
    for node in graph.nodes:
        if not node.inputs or np.all(np.isfinite(values[node.id])):
            continue
        if all(np.all(np.isfinite(values[i])) for i in node.inputs):
            bad = int(np.size(values[node.id]) - np.count_nonzero(np.isfinite(values[node.id])))
            found.append(f"gate {graph.label(node.id)} ({node.op}) gives nan/inf in {bad} of {np.size(values[node.id])} entries")
    return found[:limit]
