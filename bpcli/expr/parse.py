"""Tokenizer and iterative precedence parser (shunting-yard): text -> ExprGraph.

Grammar: numbers (3, 0.5, 2.5e-1), identifiers, the operators of the op table with its
precedence and associativity (+ - * / @ **, ^ is **), unary - and +, postfix .T and
indexing s[i], parentheses, and calls of the table's functions (max/min of 2 or more
arguments are elementwise, of one a reduction; sum(x, axis=1) takes keyword options).
Python's precedence: ** binds tighter than unary minus on its left (-x**2 = -(x**2)), is
right-associative, and accepts a unary minus on its right (2**-x); .T and [] bind tightest.
Anything else is a syntax error pointing at its column. User text is never handed to
eval/exec/compile.
"""

from __future__ import annotations

import math
import re
from typing import Optional, Union

from bpcli.errors import ExprError, did_you_mean
from bpcli.expr.graph import NAMED_CONSTANTS, ExprGraph, GraphBuilder
from bpcli.expr.ops import (
    FUNCTIONS,
    INFIX_OPS,
    POSTFIX_OPS,
    PREFIX_OPS,
    SYMBOL_ALIASES,
    arities_of,
    function_named,
)

MAX_CHARS = 1_000_000

_UNARY_PRECEDENCE = PREFIX_OPS["-"].precedence
_KEYWORD_VALUES = {"True": 1, "False": 0}

_EXPLAINED = {
    ".": "attribute access is not part of the grammar (only .T, the transpose)",
    "'": "strings are not part of the grammar",
    '"': "strings are not part of the grammar",
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


_SYMBOLS = sorted({*INFIX_OPS, *SYMBOL_ALIASES, "(", ")", ",", "[", "]", "="}, key=len, reverse=True)
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    + "".join(f"|(?P<postfix{k}>{re.escape(symbol)}(?![A-Za-z0-9_]))" for k, symbol in enumerate(POSTFIX_OPS))
    + "|(?P<op>" + "|".join(re.escape(symbol) for symbol in _SYMBOLS) + ")"
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
            append(Token(SYMBOL_ALIASES.get(piece, piece), piece, column))
        elif kind.startswith("postfix"):
            append(Token("postfix", piece, column))
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
    """An operator, '(', open function call or open subscript waiting on the parser's stack."""

    __slots__ = ("kind", "text", "column", "arguments", "keywords")

    def __init__(self, kind: str, text: str, column: int):
        self.kind = kind  # "binary", "unary", "paren", "call", "index"
        self.text = text  # operator symbol or function name
        self.column = column
        self.arguments = 0  # for calls: positional arguments completed so far
        self.keywords: dict[str, int] = {}  # for calls: axis=1


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


def _binding(item: _StackItem) -> int:
    return _UNARY_PRECEDENCE if item.kind == "unary" else INFIX_OPS[item.text].precedence


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
            if item.text in PREFIX_OPS:
                op = PREFIX_OPS[item.text]
                self.operands.append(self.builder.gate(op.name, (self.node_of(operand),), column=item.column))
            else:
                self.operands.append(operand)  # unary plus is the identity: no node
            return
        right = self.operands.pop()
        left = self.operands.pop()
        if item.text == "/" and type(left) is float and left == 1.0:
            self.operands.append(self.builder.gate("recip", (self.node_of(right),), column=item.column))
            return
        inputs = (self.node_of(left), self.node_of(right))
        self.operands.append(self.builder.gate(INFIX_OPS[item.text].name, inputs, column=item.column))

    def finish_call(self, item: _StackItem) -> None:
        name, count = item.text, item.arguments
        op = function_named(name, count)
        if op is None:
            raise self.error(f"{name}() takes {_arity_text(name)}, got {count}", item.column)
        unknown = [key for key in item.keywords if key not in op.keywords]
        if unknown:
            allowed = ", ".join(op.keywords) or "none"
            raise self.error(
                f"{name}() has no option '{unknown[0]}'{did_you_mean(unknown[0], op.keywords)}; "
                f"its options: {allowed}",
                item.column,
            )
        args = self.operands[len(self.operands) - count :]
        del self.operands[len(self.operands) - count :]
        inputs = tuple(self.node_of(a) for a in args)
        self.operands.append(self.builder.gate(op.name, inputs, dict(item.keywords), item.column))

    def finish_index(self, item: _StackItem) -> None:
        index = self.operands.pop()
        base = self.operands.pop()
        self.operands.append(
            self.builder.gate("index", (self.node_of(base), self.node_of(index)), column=item.column)
        )

    def reduce_to_group(self, closing: Token) -> _StackItem:
        """Reduce until the innermost '(', call or subscript; return it (still on the stack)."""
        while self.stack and self.stack[-1].kind in ("binary", "unary"):
            self.reduce()
        if not self.stack:
            what = {
                ")": "')' without a matching '('",
                "]": "']' without a matching '['",
            }.get(closing.kind, "',' outside a function call")
            raise self.error(f"syntax error: {what}", closing.column)
        group = self.stack[-1]
        opener = {"paren": ")", "call": ")", "index": "]"}[group.kind]
        if closing.kind in (")", "]") and closing.kind != opener:
            raise self.error(f"syntax error: '{closing.kind}' where '{opener}' was expected", closing.column)
        return group

    def keyword(self, tokens: list[Token], i: int) -> int:
        """Read `name=INTEGER` inside a call; returns the index of its last token."""
        group = self.stack[-1] if self.stack else None
        name = tokens[i]
        if group is None or group.kind != "call":
            raise self.error(f"syntax error: {_EXPLAINED['=']}", tokens[i + 1].column)
        k = i + 2
        sign = 1
        if k < len(tokens) and tokens[k].kind == "-":
            sign, k = -1, k + 1
        value = tokens[k] if k < len(tokens) else None
        if value is not None and value.kind == "name" and value.text in _KEYWORD_VALUES:
            number = _KEYWORD_VALUES[value.text]
        elif value is not None and value.kind == "num" and value.text.isdigit():
            number = sign * int(value.text)
        else:
            where = value.column if value is not None else len(self.text.rstrip())
            raise self.error(f"syntax error: {name.text}= takes an integer, like {name.text}=1", where)
        if name.text in group.keywords:
            raise self.error(f"{name.text}= is given twice", name.column)
        group.keywords[name.text] = number
        following = tokens[k + 1] if k + 1 < len(tokens) else None
        if following is None or following.kind not in (",", ")"):
            raise self.error("syntax error: expected ',' or ')' after the option", following.column if following else len(self.text.rstrip()))
        return k

    def run(self) -> ExprGraph:
        text = self.text
        tokens = tokenize(text)
        expect_operand = True
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            kind = tok.kind
            if expect_operand:
                following = tokens[i + 1] if i + 1 < len(tokens) else None
                if kind == "num":
                    self.operands.append(float(tok.text))
                    expect_operand = False
                elif kind == "name" and following is not None and following.kind == "=":
                    group_of_keyword = self.stack[-1] if self.stack else None
                    i = self.keyword(tokens, i)
                    following = tokens[i + 1]
                    if following.kind == ",":
                        i += 1  # the ',' belongs to the option; the next argument follows
                    else:  # the ')' closes the call
                        i += 1
                        self.stack.pop()
                        self.finish_call(group_of_keyword)
                        expect_operand = False
                elif kind == "name":
                    if following is not None and following.kind == "(":
                        if tok.text not in FUNCTIONS:
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
                    elif tok.text in FUNCTIONS:
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
                elif kind in PREFIX_OPS or kind == "+":
                    self.stack.append(_StackItem("unary", kind, tok.column))
                elif (
                    kind == ")"
                    and self.stack
                    and self.stack[-1].kind == "call"
                    and self.stack[-1].arguments == 0
                    and not self.stack[-1].keywords
                ):
                    self.finish_call(self.stack.pop())  # raises unless a call of nothing exists
                    expect_operand = False
                else:
                    raise self.error(
                        f"syntax error: expected a number, a name or '(' before '{tok.text}'",
                        tok.column,
                    )
            else:
                if kind in INFIX_OPS:
                    op = INFIX_OPS[kind]
                    while self.stack and self.stack[-1].kind in ("binary", "unary"):
                        top = self.stack[-1]
                        top_precedence = _binding(top)
                        if top_precedence > op.precedence or (
                            top_precedence == op.precedence and not op.right_associative
                        ):
                            self.reduce()
                        else:
                            break
                    self.stack.append(_StackItem("binary", kind, tok.column))
                    expect_operand = True
                elif kind == "postfix":
                    op = POSTFIX_OPS[tok.text]
                    operand = self.node_of(self.operands.pop())
                    self.operands.append(self.builder.gate(op.name, (operand,), column=tok.column))
                elif kind == "[":
                    self.stack.append(_StackItem("index", "[", tok.column))
                    expect_operand = True
                elif kind in (")", "]"):
                    group = self.reduce_to_group(tok)
                    self.stack.pop()
                    if group.kind == "call":
                        group.arguments += 1
                        self.finish_call(group)
                    elif group.kind == "index":
                        self.finish_index(group)
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
                    if kind == "=":
                        raise self.error(f"syntax error: {_EXPLAINED['=']}", tok.column)
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
            if top.kind in ("paren", "call", "index"):
                raise self.error(
                    f"syntax error: '{'[' if top.kind == 'index' else '('}' is never closed",
                    top.column + (len(top.text) if top.kind == "call" else 0),
                )
            self.reduce()
        output = self.node_of(self.operands.pop())
        return self.builder.build(output, text)


def _arity_text(name: str) -> str:
    """What a function takes: "1 argument", "2 or more arguments", "1 argument or 2 or more"."""
    forms = []
    for op in sorted(arities_of(name), key=lambda op: op.arity or 99):
        forms.append("2 or more arguments" if op.arity == 0 else f"{op.arity} argument{'s' if op.arity != 1 else ''}")
    return " or ".join(forms)
