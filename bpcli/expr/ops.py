"""THE op table: every gate an expression can contain, in one place.

An entry is keyword arguments: the forward, one local partial per input (`partials`, each
`(*inputs, out) -> ∂out/∂input`), the formula text of each partial, the gate's role in the
backward flow, how it is written (`symbol`, `precedence`, `right_associative`), its kink and
its expansion into primitive gates. The Python columns (`forward`, `partials`) are what
`bpcli trace` of scalars runs (no NumPy import); the NumPy columns (`np_forward`,
`np_partials`) default to them and are given only where the Python ones do not work on
arrays. Tensor gates (`@`, `.T`, reductions, indexing, softmax) live in `tensor_ops` and give
their vector-Jacobian products (`vjps`) instead of elementwise partials.

Pure-Python forwards follow IEEE 754 instead of raising: log(-1) is nan, 1/0 is inf,
exp(1000) is inf. Adding an op here enrolls it in the parser, the printer, `trace`, the
`expr` layer and the op-table gradient tests.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence

INF = math.inf
NAN = math.nan


class _LazyNumpy:
    """`np.name` imports NumPy on first use, so `trace` of scalars never loads it."""

    def __getattr__(self, name: str) -> Any:
        import numpy

        value = getattr(numpy, name)
        setattr(self, name, value)
        return value


np = _LazyNumpy()


# ---- IEEE-754 scalar helpers (Python's math raises where IEEE returns nan/inf) ----------


def safe_div(a: float, b: float) -> float:
    """a / b, with x/0 = ±inf and 0/0 = nan instead of ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def safe_pow(a: float, b: float) -> float:
    """a ** b as a real number: nan for a negative base with a fractional exponent."""
    try:
        result = a**b
    except ZeroDivisionError:  # 0 ** negative
        return INF
    except OverflowError:
        odd = b == int(b) and int(b) % 2 == 1
        return -INF if (a < 0 and odd) else INF
    if isinstance(result, complex):
        return NAN
    return float(result)


def safe_exp(a: float) -> float:
    """e ** a, inf on overflow."""
    try:
        return math.exp(a)
    except OverflowError:
        return INF


def safe_log(a: float) -> float:
    """ln a: -inf at 0, nan below 0."""
    if a > 0:
        return math.log(a)
    if a == 0:
        return -INF
    return NAN


def safe_sqrt(a: float) -> float:
    """√a: nan below 0."""
    return math.sqrt(a) if a >= 0 else NAN


def safe_sin(a: float) -> float:
    """sin a: nan for ±inf."""
    return math.sin(a) if math.isfinite(a) else NAN


def safe_cos(a: float) -> float:
    """cos a: nan for ±inf."""
    return math.cos(a) if math.isfinite(a) else NAN


def sigmoid(a: float) -> float:
    """σ(a) = 1 / (1 + e^-a), computed without overflow on either side."""
    if a != a:
        return NAN
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


def np_sigmoid(a):
    """σ(a) elementwise, without overflow warnings for large |a|."""
    z = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


# The last winner found, by the identity of its argument list: backward asks once per input
# with the same list, which would otherwise make max/min of n arguments cost n^2.
_last_winner: tuple = (None, None, 0)
_last_np_winner: tuple = (None, None, None)


def winner(args: Sequence[float], larger: bool) -> int:
    """Index of the first argument equal to max(args) (or min): the input the gate routes to."""
    global _last_winner
    seen_args, seen_larger, index = _last_winner
    if seen_args is args and seen_larger == larger:
        return index
    best = 0
    for i in range(1, len(args)):
        if (args[i] > args[best]) if larger else (args[i] < args[best]):
            best = i
    _last_winner = (args, larger, best)
    return best


def np_winner(args, larger: bool):
    """Elementwise index of the first maximal (or minimal) argument."""
    global _last_np_winner
    seen_args, seen_larger, index = _last_np_winner
    if seen_args is args and seen_larger == larger:
        return index
    stacked = np.stack(np.broadcast_arrays(*args))
    index = np.argmax(stacked, axis=0) if larger else np.argmin(stacked, axis=0)
    _last_np_winner = (args, larger, index)
    return index


# ---- the entry ---------------------------------------------------------------------------

INFIX, PREFIX, POSTFIX, FUNCTION = "infix", "prefix", "postfix", "function"


class Op:
    """One gate of the table (see the module docstring); built from keyword arguments only.

    `partials[i](*args, out)` is ∂out/∂args[i]; a variadic gate (max, min: `arity=0`, two or
    more inputs) gives one `partial(i, args, out)` instead. `formula[i]` is the partial's text
    in the gate's own names x (first input), y (second) and out. `vjps[i](g, *args, out,
    **options)` is a tensor gate's vector-Jacobian product for input i (elementwise gates get
    theirs from the partials, summed over the axes they broadcast). A plain slotted class, not
    a dataclass: `bpcli trace` start-up pays for every class built at import time.
    """

    __slots__ = (
        "name", "arity", "forward", "partials", "np_forward", "np_partials", "vjps", "formula",
        "vjp_formula", "role", "kind", "call", "symbol", "precedence", "right_associative",
        "spaced", "gate_label", "constant_label", "constant_role", "routes", "kink", "np_kink",
        "expansion", "domain", "keywords", "nonzeros", "tensor_only", "check_shapes",
    )

    def __init__(
        self,
        name: str,
        *,
        forward: Optional[Callable[..., Any]] = None,  # None: a tensor gate (NumPy only)
        partials: Sequence[Callable[..., Any]] = (),
        formula: Sequence[str] = (),
        role: str,  # "short: explanation" of the gate's part in the backward flow
        arity: Optional[int] = None,  # default len(partials); 0 = two or more inputs (max, min)
        np_forward: Optional[Callable[..., Any]] = None,  # default: forward
        np_partials: Optional[Sequence[Callable[..., Any]]] = None,  # default: partials
        vjps: Sequence[Callable[..., Any]] = (),  # tensor gates: g -> d(input i)
        vjp_formula: Optional[Callable[..., tuple]] = None,  # (names, shapes, options) -> texts
        kind: str = FUNCTION,  # how it is written: function call, infix, prefix or postfix
        call: str = "",  # the function's name in text when it differs from `name` (max of one)
        symbol: str = "",  # operator text: "+", "**", "@", "-" (neg), "1/" (recip), ".T"
        precedence: int = 9,  # binding power: + 1, * / @ 2, unary - 3, ** 4, call/atom 9
        right_associative: bool = False,  # a**b**c = a**(b**c); --x needs no parentheses
        spaced: bool = False,  # printed with spaces around the symbol: x + y
        gate_label: str = "",  # how tables name the gate ("1/x", "*-1"); default symbol or name
        constant_label: bool = False,  # with one constant input the label shows it: +1, *-1
        constant_role: Optional[Callable[[float], str]] = None,  # role given that constant
        routes: bool = False,  # the whole gradient goes to one input (the winner)
        kink: Optional[Callable[[Sequence[float]], int]] = None,  # which side of the kink
        np_kink: Optional[Callable[[Sequence[Any]], Any]] = None,
        expansion: Optional[Callable[..., int]] = None,  # (builder, *input ids) -> output id
        domain: Sequence[tuple[float, float]] = ((-3.0, 3.0),),  # test sampling box per input
        keywords: Sequence[str] = (),  # keyword options in calls: sum(x, axis=1)
        nonzeros: Optional[Callable[..., int]] = None,  # tensor gates: Jacobian nonzeros per input
        check_shapes: Optional[Callable[..., Optional[str]]] = None,  # shapes -> problem or None
    ):
        self.name, self.forward, self.partials, self.formula = name, forward, tuple(partials), tuple(formula)
        self.role, self.kind, self.call, self.symbol = role, kind, call or name, symbol
        self.arity = len(self.partials or vjps) if arity is None else arity
        self.np_forward = forward if np_forward is None else np_forward
        self.np_partials = self.partials if np_partials is None else tuple(np_partials)
        self.vjps, self.vjp_formula, self.tensor_only = tuple(vjps), vjp_formula, forward is None
        self.precedence, self.right_associative, self.spaced = precedence, right_associative, spaced
        self.gate_label, self.constant_label, self.constant_role = gate_label, constant_label, constant_role
        self.routes, self.kink, self.np_kink = routes, kink, np_kink
        self.expansion, self.domain, self.keywords = expansion, tuple(domain), tuple(keywords)
        self.nonzeros, self.check_shapes = nonzeros, check_shapes

    @property
    def function(self) -> bool:
        """Callable by name in expressions: exp(x)."""
        return self.kind == FUNCTION

    def local(self, i: int, args: Sequence[Any], out: Any) -> Any:
        """∂out/∂args[i] with the Python column."""
        if self.arity == 0:
            return self.partials[0](i, args, out)
        return self.partials[i](*args, out)

    def np_local(self, i: int, args: Sequence[Any], out: Any) -> Any:
        """∂out/∂args[i] elementwise over arrays."""
        if self.arity == 0:
            return self.np_partials[0](i, args, out)
        return self.np_partials[i](*args, out)

    def accepts(self, count: int) -> bool:
        """Whether a call with `count` inputs is this gate (max of one input is a reduction)."""
        return count >= 2 if self.arity == 0 else count == self.arity

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    """Add `op` to the table (the parser, printer and interpreter read it from there)."""
    OPS[op.name] = op
    return op


# ---- the elementwise gates ---------------------------------------------------------------


def _scaling_role(constant: float) -> str:
    """A `*c` gate's role: `*-1` flips the sign (the lecture's gate), any other c scales."""
    if constant == -1:
        return "flips: the upstream gradient changes sign (a *-1 gate)"
    return "scales: by the constant it multiplies with"


def _expand_sigmoid(builder, x: int) -> int:
    """σ(x) = 1/(1+exp(x*-1)): the lecture's gates `*-1`, `exp`, `+1`, `1/x`."""
    flipped = builder.gate("mul", (x, builder.constant(-1.0)))
    exponential = builder.gate("exp", (flipped,))
    shifted = builder.gate("add", (exponential, builder.constant(1.0)))
    return builder.gate("recip", (shifted,))


def _expand_tanh(builder, x: int) -> int:
    """tanh(x) = (1 - e)/(1 + e) with e = exp(x*-2); e forks, so its gradient shows `+=`."""
    exponential = builder.gate("exp", (builder.gate("mul", (x, builder.constant(-2.0))),))
    numerator = builder.gate("sub", (builder.constant(1.0), exponential))
    denominator = builder.gate("add", (exponential, builder.constant(1.0)))
    return builder.gate("div", (numerator, denominator))


def _pow_local_exponent(a: float, out: float) -> float:
    """∂(a**b)/∂b = a**b · ln a (0 where a = 0 and the power vanishes, nan for a < 0)."""
    if a > 0:
        return out * math.log(a)
    if a == 0 and out == 0:
        return 0.0
    return NAN


def _np_pow_local_exponent(a, out):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            a > 0,
            out * np.log(np.where(a > 0, a, 1.0)),
            np.where((a == 0) & (out == 0), 0.0, np.nan),
        )


def _sign(a: float) -> float:
    return 1.0 if a > 0 else (-1.0 if a < 0 else 0.0)


_BOX2 = ((-3.0, 3.0), (-3.0, 3.0))

# fmt: off
register(Op(
    "add", forward=lambda x, y: x + y,
    partials=(lambda x, y, out: 1.0, lambda x, y, out: 1.0), formula=("1", "1"),
    role="distributes: each input gets the upstream gradient unchanged",
    kind=INFIX, symbol="+", precedence=1, spaced=True, constant_label=True, domain=_BOX2,
))
register(Op(
    "sub", forward=lambda x, y: x - y,
    partials=(lambda x, y, out: 1.0, lambda x, y, out: -1.0), formula=("1", "-1"),
    role="distributes: x gets the upstream gradient, y gets it negated",
    kind=INFIX, symbol="-", precedence=1, spaced=True, domain=_BOX2,
))
register(Op(
    "mul", forward=lambda x, y: x * y,
    partials=(lambda x, y, out: y, lambda x, y, out: x), formula=("y", "x"),
    role="switches: each input gets upstream × the other input's value",
    kind=INFIX, symbol="*", precedence=2, constant_label=True, constant_role=_scaling_role,
    domain=_BOX2,
))
register(Op(
    "div", forward=safe_div,
    partials=(lambda x, y, out: safe_div(1.0, y), lambda x, y, out: -safe_div(out, y)),  # -x/y² as -(x/y)/y
    np_forward=lambda x, y: x / y,
    np_partials=(lambda x, y, out: 1.0 / y, lambda x, y, out: -out / y),
    formula=("1/y", "-x/y²"), role="scales: x by 1/y, y by -x/y²",
    kind=INFIX, symbol="/", precedence=2, domain=((-3.0, 3.0), (0.5, 3.0)),
))
register(Op(
    "pow", forward=safe_pow,
    partials=(lambda x, y, out: y * safe_pow(x, y - 1.0), lambda x, y, out: _pow_local_exponent(x, out)),
    np_forward=lambda x, y: x**y,
    np_partials=(lambda x, y, out: y * x ** (y - 1.0), lambda x, y, out: _np_pow_local_exponent(x, out)),
    formula=("y·x^(y-1)", "out·ln x"), role="scales: the base by y·x^(y-1), the exponent by out·ln x",
    kind=INFIX, symbol="**", precedence=4, right_associative=True, domain=((0.3, 3.0), (-2.0, 2.0)),
))
register(Op(
    "neg", forward=lambda x: -x, partials=(lambda x, out: -1.0,), formula=("-1",),
    role="flips: the upstream gradient changes sign (a *-1 gate)",
    kind=PREFIX, symbol="-", precedence=3, right_associative=True, gate_label="*-1",
))
register(Op(
    "recip", forward=lambda x: safe_div(1.0, x),
    partials=(lambda x, out: -out * out,), formula=("-1/x²",),  # -1/x² as -(1/x)²
    np_forward=lambda x: 1.0 / x, role="scales: by -1/x²",
    kind=PREFIX, symbol="1/", precedence=2, gate_label="1/x", domain=((0.3, 3.0),),
))
register(Op(
    "exp", forward=safe_exp, np_forward=lambda x: np.exp(x),
    partials=(lambda x, out: out,), formula=("exp(x)",), role="scales: by its own output e^x",
))
register(Op(
    "log", forward=safe_log, np_forward=lambda x: np.log(x),
    partials=(lambda x, out: safe_div(1.0, x),), np_partials=(lambda x, out: 1.0 / x,),
    formula=("1/x",), role="scales: by 1/x", domain=((0.2, 5.0),),
))
register(Op(
    "sqrt", forward=safe_sqrt, np_forward=lambda x: np.sqrt(x),
    partials=(lambda x, out: safe_div(0.5, out),), np_partials=(lambda x, out: 0.5 / out,),
    formula=("1/(2√x)",), role="scales: by 1/(2√x)", domain=((0.2, 5.0),),
))
register(Op(
    "abs", forward=abs, np_forward=lambda x: np.abs(x),
    partials=(lambda x, out: _sign(x),), np_partials=(lambda x, out: np.sign(x),),
    formula=("sign(x)",), role="passes: the gradient, sign-flipped where x < 0",
    kink=lambda a: int(_sign(a[0])), np_kink=lambda a: np.sign(a[0]).astype(np.int8),
))
register(Op(
    "sin", forward=safe_sin, np_forward=lambda x: np.sin(x),
    partials=(lambda x, out: safe_cos(x),), np_partials=(lambda x, out: np.cos(x),),
    formula=("cos(x)",), role="scales: by cos x",
))
register(Op(
    "cos", forward=safe_cos, np_forward=lambda x: np.cos(x),
    partials=(lambda x, out: -safe_sin(x),), np_partials=(lambda x, out: -np.sin(x),),
    formula=("-sin(x)",), role="scales: by -sin x",
))
register(Op(
    "tanh", forward=math.tanh, np_forward=lambda x: np.tanh(x),
    partials=(lambda x, out: 1.0 - out * out,), formula=("1-tanh²",),
    role="scales: by 1 - out² (shortcut from its own output)", expansion=_expand_tanh,
))
register(Op(
    "sigmoid", forward=sigmoid, np_forward=np_sigmoid,
    partials=(lambda x, out: out * (1.0 - out),), formula=("σ(1-σ)",),
    role="scales: by σ(1-σ) (shortcut from its own output)", expansion=_expand_sigmoid,
))
register(Op(
    "relu", forward=lambda x: x if (x > 0 or x != x) else 0.0, np_forward=lambda x: np.maximum(x, 0.0),
    partials=(lambda x, out: 1.0 if x > 0 else 0.0,), np_partials=(lambda x, out: (x > 0).astype(float),),
    formula=("[x>0]",), role="gates: passes the gradient where x > 0, blocks it elsewhere",
    kink=lambda a: int(a[0] > 0), np_kink=lambda a: (a[0] > 0).astype(np.int8),
))
register(Op(
    "max", arity=0, forward=lambda *a: a[winner(a, True)],
    partials=(lambda i, a, out: 1.0 if i == winner(a, True) else 0.0,),
    np_forward=lambda *a: np.stack(np.broadcast_arrays(*a)).max(axis=0),
    np_partials=(lambda i, a, out: (np_winner(a, True) == i).astype(float),),
    formula=("[x won]",), role="routes: the whole gradient goes to the input that won", routes=True,
    kink=lambda a: winner(a, True), np_kink=lambda a: np_winner(a, True).astype(np.int8),
    domain=((-3.0, 3.0), (-3.0, 3.0), (-3.0, 3.0)),
))
register(Op(
    "min", arity=0, forward=lambda *a: a[winner(a, False)],
    partials=(lambda i, a, out: 1.0 if i == winner(a, False) else 0.0,),
    np_forward=lambda *a: np.stack(np.broadcast_arrays(*a)).min(axis=0),
    np_partials=(lambda i, a, out: (np_winner(a, False) == i).astype(float),),
    formula=("[x won]",), role="routes: the whole gradient goes to the smallest input", routes=True,
    kink=lambda a: winner(a, False), np_kink=lambda a: np_winner(a, False).astype(np.int8),
    domain=_BOX2,
))
# fmt: on

from bpcli.expr import tensor_ops as _tensor_ops  # noqa: E402,F401  (registers @, .T, sum, ...)

# What the parser reads from the table
FUNCTIONS: tuple[str, ...] = tuple(dict.fromkeys(op.call for op in OPS.values() if op.function))
INFIX_OPS: dict[str, Op] = {op.symbol: op for op in OPS.values() if op.kind == INFIX}
PREFIX_OPS: dict[str, Op] = {op.symbol: op for op in OPS.values() if op.kind == PREFIX and op.symbol != "1/"}
POSTFIX_OPS: dict[str, Op] = {op.symbol: op for op in OPS.values() if op.kind == POSTFIX}
SYMBOL_ALIASES = {"^": "**"}


def function_named(call: str, count: int) -> Optional[Op]:
    """The gate a call `call(...)` with `count` inputs names (max of one input is a reduction)."""
    for op in OPS.values():
        if op.function and op.call == call and op.accepts(count):
            return op
    return None


def arities_of(call: str) -> list[Op]:
    return [op for op in OPS.values() if op.function and op.call == call]
