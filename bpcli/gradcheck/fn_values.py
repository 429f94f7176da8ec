"""Values of NAME=VALUE tokens for `gradcheck --fn`: arrays and the other arguments.

An array: a shape (`4,3,5,5`, or `5,` for one axis: standard normal entries drawn with the
seed), a seeded constructor (`randn(4,3)`, `rand(2,2)`, `zeros(3)`, `ones(3)`,
`randint(10, 4)`: integers in [0, 10) of shape (4,)), a nested list (`[0, 2, 1]`; integers stay
integers, e.g. labels) or `@file.npy`. Anything else is YAML flow syntax, read as a spec reads
it (`bpcli/assignments.py`): `0.1`, `1e-3`, `true`, `train`, `{stride: 2, pad: 1}`. Each is a
`ValueForm` of the grammar `FN_VALUES`, for other commands to plug in (`grammar.plus(...)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bpcli.assignments import SPEC_VALUES, ValueForm, ValueGrammar
from bpcli.errors import SpecError, UsageError

MAX_ENTRIES = 10_000_000
_SHAPE = re.compile(r"^\s*\d+\s*(,\s*\d+\s*)*,?\s*$")
_CALL = re.compile(r"^\s*(randn|rand|zeros|ones|randint)\s*\((.*)\)\s*$")


def _dims(name: str, text: str, parts: list) -> tuple:
    try:
        dims = tuple(int(p) for p in parts if p.strip())
    except ValueError:
        raise UsageError(f"{name}={text}: sizes must be whole numbers") from None
    if any(d < 1 for d in dims):
        raise UsageError(f"{name}={text}: sizes must be at least 1")
    if int(np.prod(dims, dtype=np.int64)) > MAX_ENTRIES:
        raise UsageError(f"{name}={text}: more than {MAX_ENTRIES:,} entries")
    return dims


@dataclass(frozen=True)
class ArrayContext:
    """What the array forms need: the seeded rng of drawn arrays, the folder `@file.npy` is relative to."""

    rng: np.random.Generator
    base_dir: Path = Path(".")


def _npy(name: str, text: str, context: ArrayContext) -> np.ndarray:
    return _load_npy(name, context.base_dir / text.strip()[1:])


def _constructor(name: str, text: str, context: ArrayContext) -> np.ndarray:
    kind, inside = _CALL.match(text).groups()
    rng = context.rng
    parts = inside.split(",")
    if kind == "randint":
        if len(parts) < 2:
            raise UsageError(f"{name}={text}: randint(HIGH, SIZES...) e.g. randint(10, 4)")
        high = _dims(name, text, parts[:1])[0]
        return rng.integers(0, high, size=_dims(name, text, parts[1:]))
    dims = _dims(name, text, parts)
    return {"randn": lambda: rng.standard_normal(dims), "rand": lambda: rng.random(dims),
            "zeros": lambda: np.zeros(dims), "ones": lambda: np.ones(dims)}[kind]()


def _unknown_call(name: str, text: str, context: ArrayContext) -> None:
    raise UsageError(f"{name}={text}: not a constructor call; use randn(4,3), rand(4,3), "
                     "zeros(3), ones(3) or randint(HIGH, SIZES...)")


def _shape(name: str, text: str, context: ArrayContext) -> np.ndarray:
    return context.rng.standard_normal(_dims(name, text, text.split(",")))


def _yaml_or_array(name: str, text: str, context: ArrayContext):
    """A YAML flow value as the spec reads it; a list of numbers becomes an array."""
    try:
        value = SPEC_VALUES.parse(name, text) if text.strip() else None
    except SpecError as err:
        raise UsageError(f"{name}={text}: not a shape, an array or YAML ({err.problems[0].message})") from None
    if isinstance(value, list):
        try:
            array = np.array(value)
        except ValueError:
            raise UsageError(f"{name}={text}: a nested list must be rectangular") from None
        if array.dtype.kind not in "iufb":
            raise UsageError(f"{name}={text}: a list must hold numbers")
        return array
    return value


NPY_FILE = ValueForm("@file.npy", lambda text: text.strip().startswith("@"), _npy)
CONSTRUCTOR = ValueForm("constructor", lambda text: bool(_CALL.match(text)), _constructor)
UNKNOWN_CALL = ValueForm("unknown call", lambda text: bool(re.match(r"^\s*[A-Za-z_]\w*\s*\(", text)), _unknown_call)
SHAPE = ValueForm("shape", lambda text: bool(_SHAPE.match(text)) and "," in text, _shape)
YAML_OR_ARRAY = ValueForm("yaml or nested list", lambda text: True, _yaml_or_array)
FN_VALUES = ValueGrammar(NPY_FILE, CONSTRUCTOR, UNKNOWN_CALL, SHAPE, YAML_OR_ARRAY)


def parse_fn_value(name: str, text: str, rng: np.random.Generator, base_dir: Path = Path(".")):
    """The value one token gives an argument (see the module docstring)."""
    return FN_VALUES.parse(name, text.strip(), ArrayContext(rng, base_dir))


def _load_npy(name: str, path: Path) -> np.ndarray:
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, _ = read(handle)
            if int(np.prod(shape, dtype=np.int64)) > MAX_ENTRIES:
                raise UsageError(f"{name}=@{path}: more than {MAX_ENTRIES:,} entries")
        return np.load(path, allow_pickle=False)
    except UsageError:
        raise
    except (OSError, ValueError) as err:
        raise UsageError(f"{name}=@{path}: cannot read it as .npy ({err})") from None
