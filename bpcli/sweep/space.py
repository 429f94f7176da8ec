"""Search spaces in the override syntax: `optimizer.lr=loguniform(1e-4,1e-1)`,
`regularization.strength=uniform(0,0.01)`, `model.0.units=int(50,200)`,
`train.batch_size=choice(16,32,64)`. Every other `NAME=VALUE` is a plain override that fixes a
value for all trials. Tokens and values go through the one NAME=VALUE parser
(`bpcli/assignments.py`): `SWEEP_VALUES` is the search-space form before the spec's values.
Pure Python: nothing here imports Optuna."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from bpcli.assignments import SPEC_VALUES, ValueForm, ValueGrammar, split_assignment, split_call
from bpcli.errors import SpecError, SpecProblem, did_you_mean

KINDS = ("uniform", "loguniform", "int", "choice")
MAX_CHOICES = 1000


@dataclass(frozen=True)
class SearchParam:
    """One dimension of the search: a dotted spec key and where its values come from.
    uniform: low <= x <= high; loguniform: log x uniform on [log low, log high] (0 < low);
    int: an integer low <= k <= high; choice: one of `choices`."""

    name: str
    kind: str
    low: Optional[float] = None
    high: Optional[float] = None
    choices: tuple = ()
    token: str = ""

    @property
    def log(self) -> bool:
        return self.kind == "loguniform"

    @property
    def numeric(self) -> bool:
        return self.kind != "choice"

    def endpoints(self) -> list[Any]:
        """The values validation tries: both ends of a range, every choice."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high]

    def override(self, value: Any) -> str:
        """The plain override that sets this parameter to `value`."""
        return f"{self.name}={format_value(value)}"

    def describe(self) -> str:
        """The search space in the syntax the user typed: 'loguniform(0.0001,0.1)'."""
        if self.kind == "choice":
            return f"choice({','.join(format_value(c) for c in self.choices)})"
        return f"{self.kind}({self.low:g},{self.high:g})"

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind}
        if self.kind == "choice":
            d["choices"] = list(self.choices)
        else:
            d["low"], d["high"] = self.low, self.high
        return d


def format_value(value: Any) -> str:
    """A value as override text: 0.001 -> '0.001', 1e-05 -> '1e-05', 'relu' -> 'relu'."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return repr(float(value))
        return f"{value:.6g}"
    return str(value)


def _problem(token: str, name: str, message: str) -> SpecProblem:
    return SpecProblem(message, name, f"<override {token}>")


def parse_sweep_arguments(tokens: Iterable[str]) -> tuple[list[str], list[SearchParam]]:
    """NAME=VALUE tokens -> (plain overrides, search parameters). Every syntax problem is
    reported at once as a SpecError (exit 2) naming the token."""
    fixed: list[str] = []
    params: list[SearchParam] = []
    problems: list[SpecProblem] = []
    seen: dict[str, str] = {}
    for token in tokens:
        pair = split_assignment(token)
        if pair is None or not all(pair.keys):
            problems.append(_problem(token, "", "expected NAME=VALUE or NAME=uniform(a,b) with a dotted NAME like optimizer.lr"))
            continue
        if pair.name in seen:
            problems.append(_problem(token, pair.name, f"{pair.name} is given twice (also in '{seen[pair.name]}')"))
            continue
        seen[pair.name] = token
        try:
            param = parse_space(pair.name, pair.text, token)
        except SpecError as err:
            problems.extend(err.problems)
            continue
        if param is None:
            fixed.append(f"{pair.name}={pair.text}")
        else:
            params.append(param)
    if problems:
        raise SpecError(problems)
    return fixed, params


def parse_space(name: str, text: str, token: str = "") -> Optional[SearchParam]:
    """'loguniform(1e-4,1e-1)' -> a SearchParam; a plain value -> None; a misspelt or
    malformed space -> SpecError. A call of another name (`tanh(x)` for an expr layer's
    formula) is a plain value."""
    return SWEEP_VALUES.parse(name, text, token or f"{name}={text}")


def is_space(text: str) -> bool:
    """A call of a search space, or of a name close to one (a misspelt space is an error, not a value)."""
    call = split_call(text)
    return call is not None and (call.function in KINDS or bool(did_you_mean(call.function, KINDS)))


def _space(name: str, text: str, token: str) -> SearchParam:
    kind, args = split_call(text)
    if kind not in KINDS:
        raise SpecError(_problem(token, name, f"unknown search space '{kind}'{did_you_mean(kind, KINDS)}; spaces: {', '.join(KINDS)}"))
    fail = lambda message: SpecError(_problem(token, name, message))  # noqa: E731
    if kind == "choice":
        if not args or args == [""]:
            raise fail("choice needs at least one value, e.g. choice(16,32,64)")
        if len(args) > MAX_CHOICES:
            raise fail(f"choice takes at most {MAX_CHOICES} values, got {len(args)}")
        values = tuple(_scalar(a, token, name) for a in args)
        if len(set(map(repr, values))) != len(values):
            raise fail("choice lists a value twice")
        return SearchParam(name, kind, choices=values, token=token)
    usage = f"{kind}(low,high) takes two numbers, e.g. {_example(kind)}"
    if len(args) != 2:
        raise fail(f"{usage}; got {len(args)} argument{'s' if len(args) != 1 else ''}")
    low, high = (_scalar(a, token, name) for a in args)
    for end, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail(f"{usage}; {end} is {format_value(value)!r}")
        if kind == "int" and not isinstance(value, int):
            raise fail(f"int(low,high) takes two integers, e.g. int(50,200); {end} is {format_value(value)}")
    if not low < high:
        raise fail(f"{kind} needs low < high, got low={format_value(low)}, high={format_value(high)}")
    if kind == "loguniform" and low <= 0:
        raise fail(f"loguniform needs 0 < low (it samples log x), got low={format_value(low)}; use uniform for ranges that include 0")
    if kind != "int":
        low, high = float(low), float(high)
    return SearchParam(name, kind, low=low, high=high, token=token)


def _example(kind: str) -> str:
    return {"uniform": "uniform(0,0.5)", "loguniform": "loguniform(1e-4,1e-1)", "int": "int(50,200)"}[kind]


def _scalar(text: str, token: str, name: str) -> Any:
    """One argument as a YAML scalar (safe loader): 1e-3 -> 0.001, relu -> 'relu', 'a,b' -> 'a,b'."""
    if not text:
        raise SpecError(_problem(token, name, "an empty argument (two commas in a row?)"))
    try:
        value = SPEC_VALUES.parse(name, text, f"<override {token}>")
    except SpecError:
        raise SpecError(_problem(token, name, f"cannot read {text!r} as a value")) from None
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise SpecError(_problem(token, name, f"a search value must be a number, a word, true/false or null, not {text!r}"))
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(_problem(token, name, f"{text} is not a finite number"))
    return value


SPACE = ValueForm("search space", is_space, _space)
PLAIN = ValueForm("plain override", lambda text: True, lambda name, text, token: None)  # read by load_spec
SWEEP_VALUES = ValueGrammar(SPACE, PLAIN)  # context: the whole token, which every problem names


def validate_space(source: str, fixed: Sequence[str], params: Sequence[SearchParam]):
    """Load the spec with the plain overrides and every parameter at each end of its range (and
    each choice), the others at their first value: a key that does not exist or a value the
    option forbids is a SpecError at the search token. Returns the spec at the first values."""
    from bpcli.spec import load_spec

    base = [p.override(p.endpoints()[0]) for p in params]
    found: dict[tuple, list[str]] = {}  # (token, path, message) -> the ends it was found at
    notes: dict[str, None] = {}  # every end's warnings (options a type override dropped), once each
    for i, param in enumerate(params or [None]):
        for value in (param.endpoints() if param else [None]):
            overrides = list(base) if param is None else [*base[:i], param.override(value), *base[i + 1 :]]
            try:
                notes.update(dict.fromkeys(load_spec(source, [*fixed, *overrides]).notes))
            except SpecError as err:
                for p in err.problems:
                    key, end = _at_search_token(p, params, base, overrides)
                    found.setdefault(key, [])
                    if end and end not in found[key]:
                        found[key].append(end)
    if found:
        problems = []
        for (file, path, message), ends in found.items():
            if len(ends) == 1:
                message += f" (at the {ends[0]})"
            problems.append(SpecProblem(message, path, file))
        raise SpecError(problems)
    spec = load_spec(source, [*fixed, *base])
    spec.notes = list(notes)
    return spec


def _at_search_token(problem: SpecProblem, params: Sequence[SearchParam], base: list[str], overrides: list[str]) -> tuple[tuple, str]:
    """A problem found at `<override lr=0.1>` moved to the search token it came from, and
    which end of the range it was found at ('' for a choice or a plain override)."""
    for param, first, used in zip(params, base, overrides):
        if problem.file != f"<override {used}>":
            continue
        end = ""
        if param.kind != "choice":
            end = f"{'low' if used == first else 'high'} end of {param.describe()}"
        return (f"<override {param.token}>", problem.path or param.name, problem.message), end
    return (problem.file, problem.path, problem.message), ""
