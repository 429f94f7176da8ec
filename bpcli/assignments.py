"""One parser for every `NAME=VALUE` token: spec overrides, layer options, trace and gradcheck values.

    split_assignments(["x=1", "lr=1e-3"]) -> [Assignment("x", "1"), Assignment("lr", "1e-3")]
    SPEC_VALUES.parse("lr", "1e-3") -> 0.001

A value grammar is an ordered tuple of value forms; the first form that claims the text parses
it (and may refuse it with a UsageError that says why). The grammars in use:
- `SPEC_VALUES` (spec overrides `optimizer.lr=0.1`, `--layer dense init=null`): one YAML flow
  value read by the spec's safe loader, so `5` is an int, `1e-3` a float, `true`, `null`,
  `[1, 2]`, `{a: 1}`, anything else text.
- `NUMBERS` (scalar `trace` values): a finite number; pure Python (trace imports no YAML).
New forms plug in with `grammar.plus(form, ...)`, tried before the grammar's own: the tensor
forms of `bpcli/expr/values.py` (trace), the array forms of `bpcli/gradcheck/fn_values.py`
(`gradcheck --fn`: `randn(3,4)`, `4,3`, `randint(10,4)`, `@file.npy`), the search spaces of
`bpcli/sweep/space.py` (`loguniform(1e-4,1e-1)`). Forms written as a call split it with
`split_call`: 'uniform(0, 0.5)' -> Call('uniform', ['0', '0.5']).
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Iterable, NamedTuple, Optional

from bpcli.errors import UsageError


class Assignment(NamedTuple):
    """One `NAME=VALUE` token: the name (dotted for spec overrides) and the value text, both stripped."""

    name: str
    text: str

    @property
    def keys(self) -> list[str]:
        """The dotted name's parts: 'model.0.units' -> ['model', '0', 'units']."""
        return self.name.split(".")


def split_assignment(token: str) -> Optional[Assignment]:
    """'a.b = 1' -> Assignment('a.b', '1'); None when the token has no '=' or no name."""
    name, sep, text = token.partition("=")
    name = name.strip()
    if not sep or not name:
        return None
    return Assignment(name, text.strip())


def split_assignments(tokens: Iterable[str]) -> list[Assignment]:
    """Command-line tokens -> assignments; a token that is not NAME=VALUE is a usage error."""
    tokens = list(tokens)
    pairs = []
    for index, token in enumerate(tokens):
        spaced = _spaced_assignment(tokens, index)
        if spaced:
            raise UsageError(
                f"expected NAME=VALUE, got {spaced}: write it without spaces, "
                f"{spaced.replace(' ', '').replace(chr(39), '')} (the shell splits it into "
                "separate arguments at each space)"
            )
        pair = split_assignment(token)
        if pair is None:
            raise UsageError(f"expected NAME=VALUE, got '{token}'")
        pairs.append(pair)
    return pairs


def _spaced_assignment(tokens: list[str], index: int) -> str:
    """"'x = 3'" when tokens[index:] start an assignment typed with spaces ('x' '=' '3',
    'x' '=3', 'x=' '3'), else ""."""
    token = tokens[index]
    following = tokens[index + 1 : index + 3]
    if "=" not in token and following and following[0].startswith("="):
        if following[0] == "=" and len(following) > 1:
            return f"'{token} = {following[1]}'"
        return f"'{token} {following[0]}'"
    if token.endswith("=") and token.count("=") == 1 and following and "=" not in following[0]:
        return f"'{token} {following[0]}'"
    return ""


# --- calls: a value written as NAME(ARGUMENT, ...) ---------------------------------------------------

_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.S)


class Call(NamedTuple):
    """A value written as a call: 'choice(16, 32)' -> Call('choice', ['16', '32'])."""

    function: str
    arguments: list[str]


def split_call(text: str) -> Optional[Call]:
    """'loguniform(1e-4, 1e-1)' -> Call('loguniform', ['1e-4', '1e-1']); None when the text is not
    a call. Arguments are stripped; commas inside quotes do not split; 'f()' has one empty argument."""
    match = _CALL.match(text)
    if match is None:
        return None
    args, current, quote = [], [], ""
    for ch in match.group(2):
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ",":
            args.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    args.append("".join(current).strip())
    return Call(match.group(1), args)


# --- value grammars ------------------------------------------------------------------------------

class ValueForm(NamedTuple):
    """One kind of value: `claims(text)` says whether it is this kind; `parse(name, text, context)`
    returns the value (context: whatever the grammar's caller passes, e.g. an rng and a base dir)."""

    name: str
    claims: Callable[[str], bool]
    parse: Callable[[str, str, Any], Any]


class ValueGrammar:
    """Forms tried in order; the first that claims the text parses it."""

    def __init__(self, *forms: ValueForm):
        self.forms = forms

    def plus(self, *forms: ValueForm) -> "ValueGrammar":
        """This grammar with `forms` tried first."""
        return ValueGrammar(*forms, *self.forms)

    def parse(self, name: str, text: str, context: Any = None) -> Any:
        for form in self.forms:
            if form.claims(text):
                return form.parse(name, text, context)
        raise UsageError(f"{name}={text}: not a value this command reads")


def _finite_number(name: str, text: str, context: Any) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"value of '{name}' is not a number: '{text}'") from None
    if not math.isfinite(value):
        raise UsageError(f"value of '{name}' must be a finite number, got '{text}'")
    return value


def _yaml_value(name: str, text: str, context: Any) -> Any:
    """One YAML flow value by the spec's safe loader; context: the label its errors carry
    (default `<NAME=VALUE>`). A SpecError (with that label and the column) when it is not YAML."""
    from bpcli.spec.yaml_loader import parse_yaml

    value, _ = parse_yaml(text.strip(), context or f"<{name}={text}>")
    return value


def _anything(text: str) -> bool:
    return True


NUMBER = ValueForm("number", _anything, _finite_number)
YAML = ValueForm("yaml", _anything, _yaml_value)

NUMBERS = ValueGrammar(NUMBER)
SPEC_VALUES = ValueGrammar(YAML)
