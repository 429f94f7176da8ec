"""Values of NAME=VALUE tokens for `gradcheck --fn`: arrays and the other arguments.

An array: a shape (`4,3,5,5`, or `5,` for one axis: standard normal entries drawn with the
seed), a seeded constructor (`randn(4,3)`, `rand(2,2)`, `zeros(3)`, `ones(3)`,
`randint(10, 4)`: integers in [0, 10) of shape (4,)), a nested list (`[0, 2, 1]`; integers stay
integers, e.g. labels) or `@file.npy`. Anything else is YAML flow syntax, read with the safe
loader: `0.1`, `true`, `train`, `{stride: 2, pad: 1}`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bpcli.errors import UsageError

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


def parse_fn_value(name: str, text: str, rng: np.random.Generator, base_dir: Path = Path(".")):
    """The value one token gives an argument (see the module docstring)."""
    text = text.strip()
    if text.startswith("@"):
        return _load_npy(name, base_dir / text[1:])
    call = _CALL.match(text)
    if call:
        kind, inside = call.groups()
        parts = inside.split(",")
        if kind == "randint":
            if len(parts) < 2:
                raise UsageError(f"{name}={text}: randint(HIGH, SIZES...) e.g. randint(10, 4)")
            high = _dims(name, text, parts[:1])[0]
            return rng.integers(0, high, size=_dims(name, text, parts[1:]))
        dims = _dims(name, text, parts)
        return {"randn": lambda: rng.standard_normal(dims), "rand": lambda: rng.random(dims),
                "zeros": lambda: np.zeros(dims), "ones": lambda: np.ones(dims)}[kind]()
    if re.match(r"^\s*[A-Za-z_]\w*\s*\(", text):
        raise UsageError(f"{name}={text}: not a constructor call; use randn(4,3), rand(4,3), "
                         "zeros(3), ones(3) or randint(HIGH, SIZES...)")
    if _SHAPE.match(text) and "," in text:
        return rng.standard_normal(_dims(name, text, text.split(",")))
    import yaml

    try:
        value = yaml.safe_load(text) if text else None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UsageError(f"{name}={text}: not a shape, an array or YAML ({problem})") from None
    if isinstance(value, list):
        try:
            array = np.array(value)
        except ValueError:
            raise UsageError(f"{name}={text}: a nested list must be rectangular") from None
        if array.dtype.kind not in "iufb":
            raise UsageError(f"{name}={text}: a list must hold numbers")
        return array
    return value


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
