"""THE op table: every gate an expression can contain, in one place.

Each entry gives the gate's forward and its local partial derivatives twice, side by side:
in pure Python floats (for `bpcli trace`, which must not import NumPy) and elementwise over
NumPy arrays (for the `expr` layer). It also gives the formula text `trace` prints for each
local partial, the gate's role in the backward flow, its kink (if any), its expansion into
primitive gates (if any), how to print it, and the input domain the op-table test samples.

Pure-Python forwards follow IEEE 754 instead of raising: log(-1) is nan, 1/0 is inf,
exp(1000) is inf. Adding an op here enrolls it in the parser, the printer, `trace`, the
`expr` layer and the op-table gradient test.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence

INF = math.inf
NAN = math.nan


class _LazyNumpy:
    """`np.name` imports NumPy on first use, so `trace` (pure Python) never loads it."""

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


def winner(args: Sequence[float], larger: bool) -> int:
    """Index of the first argument equal to max(args) (or min): the input the gate routes to."""
    best = 0
    for i in range(1, len(args)):
        if (args[i] > args[best]) if larger else (args[i] < args[best]):
            best = i
    return best


def np_winner(args, larger: bool):
    """Elementwise index of the first maximal (or minimal) argument."""
    stacked = np.stack(np.broadcast_arrays(*args))
    return np.argmax(stacked, axis=0) if larger else np.argmin(stacked, axis=0)


# ---- the table ---------------------------------------------------------------------------


class Op:
    """One gate: forward, local partials (Python and NumPy), formula text, role, printing.

    `local(i, args, out)` is ∂out/∂args[i] (args: input values, out: this gate's value);
    `np_local` is the same elementwise. `formula[i]` is its text in the gate's own variable
    names x (first input), y (second) and out; variadic gates use `formula[0]` for all inputs.
    A plain slotted class rather than a dataclass: `bpcli trace` start-up pays for every
    class built at import time.
    """

    __slots__ = (
        "name", "arity", "forward", "local", "np_forward", "np_local", "formula", "role", "doc",
        "function", "symbol", "precedence", "right_associative", "spaced", "gate_label",
        "constant_label", "constant_role", "routes", "kink", "np_kink", "expansion", "domain",
    )

    def __init__(
        self,
        name: str,
        arity: int,  # 1 or 2; 0 = two or more (max, min)
        forward: Callable[..., float],
        local: Callable[[int, Sequence[float], float], float],
        np_forward: Callable[..., Any],
        np_local: Callable[[int, Sequence[Any], Any], Any],
        formula: tuple[str, ...],
        role: str,  # "short: explanation" of the gate's part in the backward flow
        doc: str,  # the math, one line
        *,
        function: bool = True,  # callable by name in expressions: exp(x)
        symbol: str = "",  # infix/prefix symbol for operators: "+", "**", "-" (neg), "1/"
        precedence: int = 9,  # binding power: + 1, * 2, unary - 3, ** 4, call/atom 9
        right_associative: bool = False,  # a**b**c = a**(b**c); --x needs no parentheses
        spaced: bool = False,  # printed with spaces around the symbol: x + y
        gate_label: str = "",  # how tables name the gate ("1/x", "*-1"); default symbol or name
        constant_label: bool = False,  # with one constant input the label shows it: +1, *-1
        constant_role: Optional[Callable[[float], str]] = None,  # role given that constant
        routes: bool = False,  # the whole gradient goes to one input (the winner)
        kink: Optional[Callable[[Sequence[float]], int]] = None,  # which side of the kink
        np_kink: Optional[Callable[[Sequence[Any]], Any]] = None,
        expansion: Optional[Callable[[Any, int], int]] = None,  # (builder, input id) -> output id
        domain: tuple[tuple[float, float], ...] = ((-3.0, 3.0),),  # test sampling box per input
    ):
        self.name, self.arity, self.forward, self.local = name, arity, forward, local
        self.np_forward, self.np_local, self.formula = np_forward, np_local, formula
        self.role, self.doc, self.function, self.symbol = role, doc, function, symbol
        self.precedence, self.right_associative, self.spaced = precedence, right_associative, spaced
        self.gate_label, self.constant_label, self.constant_role = gate_label, constant_label, constant_role
        self.routes, self.kink, self.np_kink = routes, kink, np_kink
        self.expansion, self.domain = expansion, domain

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


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


OPS: dict[str, Op] = {}


def _register(op: Op) -> None:
    OPS[op.name] = op


# fmt: off
_register(Op(
    "add", 2, lambda a, b: a + b, lambda i, a, out: 1.0,
    lambda a, b: a + b, lambda i, a, out: 1.0,
    ("1", "1"), "distributes: each input gets the upstream gradient unchanged",
    "out = x + y", function=False, symbol="+", precedence=1, spaced=True, constant_label=True,
    domain=((-3.0, 3.0), (-3.0, 3.0)),
))
_register(Op(
    "sub", 2, lambda a, b: a - b, lambda i, a, out: 1.0 if i == 0 else -1.0,
    lambda a, b: a - b,
    lambda i, a, out: 1.0 if i == 0 else -1.0,
    ("1", "-1"), "distributes: x gets the upstream gradient, y gets it negated",
    "out = x - y", function=False, symbol="-", precedence=1, spaced=True,
    domain=((-3.0, 3.0), (-3.0, 3.0)),
))
_register(Op(
    "mul", 2, lambda a, b: a * b, lambda i, a, out: a[1 - i],
    lambda a, b: a * b, lambda i, a, out: a[1 - i],
    ("y", "x"), "switches: each input gets upstream × the other input's value",
    "out = x · y", function=False, symbol="*", precedence=2, constant_label=True,
    constant_role=_scaling_role, domain=((-3.0, 3.0), (-3.0, 3.0)),
))
_register(Op(
    "div", 2, safe_div,
    lambda i, a, out: safe_div(1.0, a[1]) if i == 0 else -safe_div(out, a[1]),  # -x/y² as -(x/y)/y
    lambda a, b: a / b, lambda i, a, out: 1.0 / a[1] if i == 0 else -out / a[1],
    ("1/y", "-x/y²"), "scales: x by 1/y, y by -x/y²",
    "out = x / y", function=False, symbol="/", precedence=2,
    domain=((-3.0, 3.0), (0.5, 3.0)),
))
_register(Op(
    "pow", 2, safe_pow,
    lambda i, a, out: a[1] * safe_pow(a[0], a[1] - 1.0) if i == 0 else _pow_local_exponent(a[0], out),
    lambda a, b: a**b,
    lambda i, a, out: a[1] * a[0] ** (a[1] - 1.0) if i == 0 else _np_pow_local_exponent(a[0], out),
    ("y·x^(y-1)", "out·ln x"), "scales: the base by y·x^(y-1), the exponent by out·ln x",
    "out = x ** y", function=False, symbol="**", precedence=4, right_associative=True,
    domain=((0.3, 3.0), (-2.0, 2.0)),
))
_register(Op(
    "neg", 1, lambda a: -a, lambda i, a, out: -1.0,
    lambda a: -a, lambda i, a, out: -1.0,
    ("-1",), "flips: the upstream gradient changes sign (a *-1 gate)",
    "out = -x", function=False, symbol="-", precedence=3, right_associative=True,
    gate_label="*-1",
))
_register(Op(
    "recip", 1, lambda a: safe_div(1.0, a), lambda i, a, out: -out * out,  # -1/x² as -(1/x)²
    lambda a: 1.0 / a, lambda i, a, out: -out * out,
    ("-1/x²",), "scales: by -1/x²",
    "out = 1 / x", function=False, symbol="1/", precedence=2, gate_label="1/x",
    domain=((0.3, 3.0),),
))
_register(Op(
    "exp", 1, safe_exp, lambda i, a, out: out,
    lambda a: np.exp(a), lambda i, a, out: out,
    ("exp(x)",), "scales: by its own output e^x", "out = e^x",
))
_register(Op(
    "log", 1, safe_log, lambda i, a, out: safe_div(1.0, a[0]),
    lambda a: np.log(a), lambda i, a, out: 1.0 / a[0],
    ("1/x",), "scales: by 1/x", "out = ln x", domain=((0.2, 5.0),),
))
_register(Op(
    "sqrt", 1, safe_sqrt, lambda i, a, out: safe_div(0.5, out),
    lambda a: np.sqrt(a), lambda i, a, out: 0.5 / out,
    ("1/(2√x)",), "scales: by 1/(2√x)", "out = √x", domain=((0.2, 5.0),),
))
_register(Op(
    "abs", 1, abs, lambda i, a, out: 1.0 if a[0] > 0 else (-1.0 if a[0] < 0 else 0.0),
    lambda a: np.abs(a), lambda i, a, out: np.sign(a[0]),
    ("sign(x)",), "passes: the gradient, sign-flipped where x < 0", "out = |x|",
    kink=lambda a: 1 if a[0] > 0 else (-1 if a[0] < 0 else 0),
    np_kink=lambda a: np.sign(a[0]).astype(np.int8),
))
_register(Op(
    "sin", 1, safe_sin, lambda i, a, out: safe_cos(a[0]),
    lambda a: np.sin(a), lambda i, a, out: np.cos(a[0]),
    ("cos(x)",), "scales: by cos x", "out = sin x",
))
_register(Op(
    "cos", 1, safe_cos, lambda i, a, out: -safe_sin(a[0]),
    lambda a: np.cos(a), lambda i, a, out: -np.sin(a[0]),
    ("-sin(x)",), "scales: by -sin x", "out = cos x",
))
_register(Op(
    "tanh", 1, math.tanh, lambda i, a, out: 1.0 - out * out,
    lambda a: np.tanh(a), lambda i, a, out: 1.0 - out * out,
    ("1-tanh²",), "scales: by 1 - out² (shortcut from its own output)", "out = tanh x",
    expansion=_expand_tanh,
))
_register(Op(
    "sigmoid", 1, sigmoid, lambda i, a, out: out * (1.0 - out),
    np_sigmoid, lambda i, a, out: out * (1.0 - out),
    ("σ(1-σ)",), "scales: by σ(1-σ) (shortcut from its own output)", "out = 1/(1+e^-x)",
    expansion=_expand_sigmoid,
))
_register(Op(
    "relu", 1, lambda a: a if (a > 0 or a != a) else 0.0, lambda i, a, out: 1.0 if a[0] > 0 else 0.0,
    lambda a: np.maximum(a, 0.0), lambda i, a, out: (a[0] > 0).astype(float),
    ("[x>0]",), "gates: passes the gradient where x > 0, blocks it elsewhere", "out = max(x, 0)",
    kink=lambda a: int(a[0] > 0), np_kink=lambda a: (a[0] > 0).astype(np.int8),
))
_register(Op(
    "max", 0, lambda *a: a[winner(a, True)], lambda i, a, out: 1.0 if i == winner(a, True) else 0.0,
    lambda *a: np.stack(np.broadcast_arrays(*a)).max(axis=0),
    lambda i, a, out: (np_winner(a, True) == i).astype(float),
    ("[x won]",), "routes: the whole gradient goes to the input that won", "out = max(x₁, x₂, …)",
    routes=True,
    kink=lambda a: winner(a, True), np_kink=lambda a: np_winner(a, True).astype(np.int8),
    domain=((-3.0, 3.0), (-3.0, 3.0), (-3.0, 3.0)),
))
_register(Op(
    "min", 0, lambda *a: a[winner(a, False)], lambda i, a, out: 1.0 if i == winner(a, False) else 0.0,
    lambda *a: np.stack(np.broadcast_arrays(*a)).min(axis=0),
    lambda i, a, out: (np_winner(a, False) == i).astype(float),
    ("[x won]",), "routes: the whole gradient goes to the smallest input",
    "out = min(x₁, x₂, …)", routes=True,
    kink=lambda a: winner(a, False), np_kink=lambda a: np_winner(a, False).astype(np.int8),
    domain=((-3.0, 3.0), (-3.0, 3.0)),
))

# fmt: on

FUNCTIONS: tuple[str, ...] = tuple(name for name, op in OPS.items() if op.function)
BINARY_OPERATORS: dict[str, str] = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}
