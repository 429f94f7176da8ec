"""Tokenizer and iterative precedence parser (shunting-yard): text -> ExprGraph.

Grammar: numbers (3, 0.5, 2.5e-1), identifiers, + - * / ** (^ is **), unary - and +,
parentheses, and calls of the functions in the op table (max/min take 2 or more arguments).
Python's precedence: ** binds tighter than unary minus on its left (-x**2 = -(x**2)), is
right-associative, and accepts a unary minus on its right (2**-x). Anything else is a
syntax error pointing at its column. User text is never handed to eval/exec/compile.
"""

from __future__ import annotations

import math
import re
from typing import Optional, Union

from bpcli.errors import ExprError, did_you_mean
from bpcli.expr.graph import NAMED_CONSTANTS, ExprGraph, GraphBuilder
from bpcli.expr.ops import BINARY_OPERATORS, FUNCTIONS, OPS

MAX_CHARS = 1_000_000

# binding power and right-associativity of each operator the parser pushes
_BINARY_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}
_UNARY_PRECEDENCE = 3

_EXPLAINED = {
    ".": "attribute access is not part of the grammar",
    "'": "strings are not part of the grammar",
    '"': "strings are not part of the grammar",
    "[": "subscripts are not part of the grammar",
    "]": "subscripts are not part of the grammar",
    ";": "';' is not part of the grammar: give one expression",
    ":": "':' is not part of the grammar (no lambdas or slices)",
    "=": "'=' is not part of the grammar: give values as NAME=VALUE after the expression",
}


# Names from other languages and notations for functions of the op table.
_FUNCTION_ALIASES = {"ln": "log", "exponential": "exp", "sigm": "sigmoid", "logistic": "sigmoid",
                     "fabs": "abs", "maximum": "max", "minimum": "min", "sqr": "sqrt"}


def _function_suggestion(name: str) -> str:
    """' (did you mean 'log'?)' for ln(...) and near-misses of a function's name, else ''."""
    alias = _FUNCTION_ALIASES.get(name.lower())
    if alias is not None and alias in FUNCTIONS:
        return f" (did you mean '{alias}'?)"
    return did_you_mean(name, FUNCTIONS)


class Token:
    """One token: kind is "num", "name", or the operator/punctuation text itself ("**" for ^)."""

    __slots__ = ("kind", "text", "column")

    def __init__(self, kind: str, text: str, column: int):
        self.kind, self.text, self.column = kind, text, column


_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/(),^])"
    r"|(?P<bad>.)",
    re.S,
)
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]")


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; an unknown character is an ExprError at its column."""
    tokens: list[Token] = []
    append = tokens.append
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "space":
            continue
        piece, column = match.group(), match.start()
        if kind == "op":
            append(Token("**" if piece == "^" else piece, piece, column))
        elif kind == "num":
            end = match.end()
            if end < len(text) and _NUMBER_TAIL.match(text, end):
                raise ExprError(
                    f"malformed number '{text[column:end + 1]}' (write 2*x, not 2x)", text, end
                )
            if math.isinf(float(piece)):
                raise ExprError(
                    f"number '{piece}' is too large: it overflows to inf (the limit is about 1.8e308)",
                    text,
                    column,
                )
            append(Token(kind, piece, column))
        elif kind == "name":
            append(Token(kind, piece, column))
        elif piece.isidentifier() or piece.isalnum():
            raise ExprError(
                f"syntax error: {piece!r} cannot be part of a name: variable names use ASCII "
                "letters, digits and _ only",
                text,
                column,
            )
        else:
            reason = _EXPLAINED.get(piece, f"unexpected character {piece!r}")
            raise ExprError(f"syntax error: {reason}", text, column)
    return tokens


def _value_start(text: str) -> int:
    """Where the value that ends `text` starts: a name, a number or a (group)."""
    index = len(text)
    if text.endswith(")"):
        depth = 0
        while index > 0:
            index -= 1
            depth += {")": 1, "(": -1}.get(text[index], 0)
            if depth == 0:
                return index
        return len(text)
    while index > 0 and (text[index - 1].isalnum() or text[index - 1] in "_."):
        index -= 1
    return index


def _closing_paren(text: str, column: int) -> int:
    """The index after the ')' that closes the '(' at `column` (the end of text if none)."""
    depth = 0
    for index in range(column, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


class _StackItem:
    """An operator, '(' or open function call waiting on the parser's stack."""

    __slots__ = ("kind", "text", "column", "arguments")

    def __init__(self, kind: str, text: str, column: int):
        self.kind = kind  # "binary", "unary", "paren", "call"
        self.text = text  # operator symbol or function name
        self.column = column
        self.arguments = 0  # for calls: arguments completed so far


# An operand on the parser's output stack is a node id (int) or a literal constant (float)
# that becomes a node only when a gate takes it, so `1/x` can become the one-input `1/x` gate.
Operand = Union[int, float]


def parse(text: str) -> ExprGraph:
    """Parse `text` into an ExprGraph; ExprError (with column) on anything outside the grammar."""
    if not isinstance(text, str):
        raise ExprError("the expression must be text")
    if len(text) > MAX_CHARS:
        raise ExprError(
            f"expression too long: {len(text):,} characters (limit {MAX_CHARS:,})", text, None
        )
    if not text.strip():
        raise ExprError('empty expression: give one like "(x+y)*z"')
    return _Parser(text).run()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.builder = GraphBuilder()
        self.operands: list[Operand] = []
        self.stack: list[_StackItem] = []

    def error(self, message: str, column: Optional[int]) -> ExprError:
        return ExprError(message, self.text, column)

    def multiply_hint(self, paren: Token) -> str:
        """' (did you mean 2*(x+1)?)' for a '(' right after a value: products need '*'."""
        text = self.text
        before = text[: paren.column].rstrip()
        start = _value_start(before)
        end = _closing_paren(text, paren.column)
        if start == len(before) or end - start > 40:
            return " (did you mean to multiply? write '*' before '(')"
        return f" (did you mean {before[start:]}*{text[paren.column:end]}?)"

    def node_of(self, operand: Operand) -> int:
        if type(operand) is float:
            return self.builder.constant(operand)
        return operand

    def reduce(self) -> None:
        """Apply the operator on top of the stack to the operands it takes."""
        item = self.stack.pop()
        if item.kind == "unary":
            operand = self.operands.pop()
            if item.text == "-":
                self.operands.append(self.builder.gate("neg", (self.node_of(operand),)))
            else:
                self.operands.append(operand)  # unary plus is the identity: no node
            return
        right = self.operands.pop()
        left = self.operands.pop()
        if item.text == "/" and type(left) is float and left == 1.0:
            self.operands.append(self.builder.gate("recip", (self.node_of(right),)))
            return
        inputs = (self.node_of(left), self.node_of(right))
        self.operands.append(self.builder.gate(BINARY_OPERATORS[item.text], inputs))

    def finish_call(self, item: _StackItem) -> None:
        name, count = item.text, item.arguments
        arity = OPS[name].arity
        if arity == 0 and count < 2:
            raise self.error(f"{name}() takes 2 or more arguments, got {count}", item.column)
        if arity and count != arity:
            plural = "argument" if arity == 1 else "arguments"
            raise self.error(f"{name}() takes {arity} {plural}, got {count}", item.column)
        args = self.operands[len(self.operands) - count :]
        del self.operands[len(self.operands) - count :]
        inputs = tuple(self.node_of(a) for a in args)
        self.operands.append(self.builder.gate(name, inputs))

    def reduce_to_group(self, closing: Token) -> _StackItem:
        """Reduce until the innermost '(' or call; return it (still on the stack)."""
        while self.stack and self.stack[-1].kind in ("binary", "unary"):
            self.reduce()
        if not self.stack:
            what = (
                "')' without a matching '('"
                if closing.kind == ")"
                else "',' outside a function call"
            )
            raise self.error(f"syntax error: {what}", closing.column)
        return self.stack[-1]

    def run(self) -> ExprGraph:
        text = self.text
        tokens = tokenize(text)
        expect_operand = True
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            kind = tok.kind
            if expect_operand:
                if kind == "num":
                    self.operands.append(float(tok.text))
                    expect_operand = False
                elif kind == "name":
                    following = tokens[i + 1] if i + 1 < len(tokens) else None
                    if following is not None and following.kind == "(":
                        if tok.text not in OPS or not OPS[tok.text].function:
                            suggestion = _function_suggestion(tok.text)
                            if not suggestion:
                                suggestion = self.multiply_hint(following)
                            raise self.error(
                                f"unknown function '{tok.text}'{suggestion}; "
                                f"functions: {', '.join(FUNCTIONS)}",
                                tok.column,
                            )
                        self.stack.append(_StackItem("call", tok.text, tok.column))
                        i += 1  # the '(' belongs to the call
                    elif tok.text in OPS and OPS[tok.text].function:
                        raise self.error(
                            f"'{tok.text}' is a function: call it as {tok.text}(...)", tok.column
                        )
                    elif tok.text in NAMED_CONSTANTS:
                        value = NAMED_CONSTANTS[tok.text]
                        self.operands.append(self.builder.constant(value, tok.text))
                        expect_operand = False
                    else:
                        self.operands.append(self.builder.variable(tok.text))
                        expect_operand = False
                elif kind == "(":
                    self.stack.append(_StackItem("paren", "(", tok.column))
                elif kind in ("-", "+"):
                    self.stack.append(_StackItem("unary", kind, tok.column))
                elif (
                    kind == ")"
                    and self.stack
                    and self.stack[-1].kind == "call"
                    and self.stack[-1].arguments == 0
                ):
                    self.finish_call(self.stack[-1])  # raises: the call has no arguments
                else:
                    raise self.error(
                        f"syntax error: expected a number, a name or '(' before '{tok.text}'",
                        tok.column,
                    )
            else:
                if kind in _BINARY_PRECEDENCE:
                    precedence = _BINARY_PRECEDENCE[kind]
                    right_assoc = kind == "**"
                    while self.stack and self.stack[-1].kind in ("binary", "unary"):
                        top = self.stack[-1]
                        top_precedence = (
                            _UNARY_PRECEDENCE
                            if top.kind == "unary"
                            else _BINARY_PRECEDENCE[top.text]
                        )
                        if top_precedence > precedence or (
                            top_precedence == precedence and not right_assoc
                        ):
                            self.reduce()
                        else:
                            break
                    self.stack.append(_StackItem("binary", kind, tok.column))
                    expect_operand = True
                elif kind == ")":
                    group = self.reduce_to_group(tok)
                    self.stack.pop()
                    if group.kind == "call":
                        group.arguments += 1
                        self.finish_call(group)
                elif kind == ",":
                    group = self.reduce_to_group(tok)
                    if group.kind != "call":
                        raise self.error("syntax error: ',' outside a function call", tok.column)
                    group.arguments += 1
                    expect_operand = True
                else:
                    hint = " (write 2*x, not 2 x)" if kind in ("num", "name") else ""
                    if kind == "(":
                        hint = self.multiply_hint(tok)
                    raise self.error(
                        f"syntax error: expected an operator before '{tok.text}'{hint}", tok.column
                    )
            i += 1
        if expect_operand:
            raise self.error(
                "syntax error: the expression ends where a value was expected", len(text.rstrip())
            )
        while self.stack:
            top = self.stack[-1]
            if top.kind in ("paren", "call"):
                raise self.error(
                    "syntax error: '(' is never closed",
                    top.column + (len(top.text) if top.kind == "call" else 0),
                )
            self.reduce()
        output = self.node_of(self.operands.pop())
        return self.builder.build(output, text)
