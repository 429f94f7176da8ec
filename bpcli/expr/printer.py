"""Print an ExprGraph back as expression text that parses to the same graph.

Parentheses are added only where the grammar's precedence needs them. The full printer
walks the graph with an explicit stack (no recursion); `short_texts` gives every node a
bounded-length text for tables, naming long sub-expressions by their node label.
"""

from __future__ import annotations

import math
from typing import Union

from bpcli.expr.graph import CONSTANT, VARIABLE, ExprGraph, ExprNode
from bpcli.expr.ops import OPS, POSTFIX
from bpcli.expr.tensor_ops import INDEX

ATOM = 11
FUNCTION_PRECEDENCE = 9  # calls and atoms need no parentheses before .T or [ ]

Piece = Union[str, int]  # literal text, or a child node id to print in its place


def constant_text(value: float) -> str:
    """A number as the grammar writes it (negative numbers in parentheses)."""
    if value != value:
        return "nan"  # the parser never makes one (it refuses non-finite literals)
    if math.isinf(value):
        text = "1e999"
    elif value == int(value) and abs(value) < 1e15:
        text = str(int(abs(value)))
    else:
        text = repr(abs(value))
    return f"(-{text})" if value < 0 or (value == 0 and math.copysign(1, value) < 0) else text


def precedence(node: ExprNode) -> int:
    """How tightly a node's printed text binds: + 1, * / @ 2, unary - 3, ** 4, calls 9, .T and [] 10."""
    if node.op in (VARIABLE, CONSTANT):
        return ATOM
    return OPS[node.op].precedence


def pieces(graph: ExprGraph, node: ExprNode) -> list[Piece]:
    """The printed form of one node, with child node ids where their text goes."""
    if node.op == VARIABLE:
        return [node.name]
    if node.op == CONSTANT:
        return [node.name or constant_text(node.constant)]
    op = OPS[node.op]
    own = op.precedence
    if op.function:
        out: list[Piece] = [op.call, "("]
        for k, child in enumerate(node.inputs):
            if k:
                out.append(", ")
            out.append(child)
        for key, value in node.options.items():
            out.append(f", {key}={value}")
        out.append(")")
        return out
    if op.kind in (POSTFIX, INDEX):  # x.T, s[y]: bind tighter than anything but an atom
        base, *index = node.inputs
        wrapped = _wrapped(base, precedence(graph.nodes[base]) < FUNCTION_PRECEDENCE)
        return [*wrapped, op.symbol] if not index else [*wrapped, "[", index[0], "]"]
    if len(node.inputs) == 1:  # a prefix operator: -x, 1/x
        child = node.inputs[0]
        child_prec = precedence(graph.nodes[child])
        wrap = child_prec < own or (child_prec == own and not op.right_associative)
        return [op.symbol, *_wrapped(child, wrap)]
    left, right = node.inputs
    left_prec, right_prec = precedence(graph.nodes[left]), precedence(graph.nodes[right])
    right_assoc = op.right_associative
    wrap_left = left_prec < own or (left_prec == own and right_assoc)
    wrap_right = right_prec < own or (right_prec == own and not right_assoc)
    symbol = f" {op.symbol} " if op.spaced else op.symbol
    return [*_wrapped(left, wrap_left), symbol, *_wrapped(right, wrap_right)]


def _wrapped(child: int, wrap: bool) -> list[Piece]:
    return ["(", child, ")"] if wrap else [child]


def to_text(graph: ExprGraph) -> str:
    """The whole expression as text; `parse(to_text(g))` has the same structure as g."""
    out: list[str] = []
    work: list[Piece] = [graph.output]
    nodes = graph.nodes
    while work:
        item = work.pop()
        if isinstance(item, str):
            out.append(item)
        else:
            work.extend(reversed(pieces(graph, nodes[item])))
    return "".join(out)


def short_texts(graph: ExprGraph, limit: int = 28) -> list[str]:
    """Every node's text, at most about `limit` characters: long children appear as n<id>."""
    texts: list[str] = []
    for node in graph.nodes:
        parts = pieces(graph, node)
        for k, piece in enumerate(parts):
            if isinstance(piece, str):
                continue
            child = texts[piece]
            if len(child) <= limit:
                parts[k] = child
            else:
                parts[k] = graph.label(piece)
                if 0 < k < len(parts) - 1 and parts[k - 1] == "(" and parts[k + 1] == ")":
                    parts[k - 1] = parts[k + 1] = ""  # a label needs no parentheses
        texts.append("".join(parts))
    return texts
