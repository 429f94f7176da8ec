"""Values of NAME=VALUE tokens for `gradcheck --fn`: arrays and the other arguments.

Arrays are read by the one tensor-value parser `trace` uses (bpcli.expr.values): nested lists
(`[0, 2, 1]`), seeded constructors (`randn(4,3)`, `rand`, `zeros`, `ones`, `eye`, `arange`) and
`@file.npy` / `@file.csv`. Added here for functions: a bare shape (`4,3,5,5`, or `5,` for one
axis) means `randn(4,3,5,5)`; `randint(HIGH, SIZES...)` draws integer labels in [0, HIGH); and
integers stay integers (a list without a decimal point, an integer .npy: labels index arrays).
Anything else is one YAML flow value, read as spec overrides read theirs (`SPEC_VALUES` of
`bpcli/assignments.py`, the one NAME=VALUE parser; `FN_VALUES` is its grammar for `--fn`): `0.1`,
`1e-3`, `true`, `train`, `{stride: 2, pad: 1}`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from bpcli.assignments import SPEC_VALUES, ValueForm, ValueGrammar, split_call
from bpcli.errors import SpecError, UsageError
from bpcli.expr.values import MAX_ENTRIES, TensorContext, is_tensor_text, parse_tensor

_SHAPE = re.compile(r"^\s*\d+\s*(,\s*\d+\s*)*,?\s*$")
_CALL_START = re.compile(r"^[A-Za-z_]\w*\s*\(")  # a call, even a broken one


def parse_fn_value(name: str, text: str, *, seed: int = 0, index: int = 0, base_dir: Path = Path(".")):
    """The value one token gives an argument (see the module docstring); `index` is the token's
    position, which gives each random array its own stream."""
    return FN_VALUES.parse(name, text.strip(), TensorContext(seed, index, base_dir))


def _is_randint(text: str) -> bool:
    call = split_call(text)
    return call is not None and call.function == "randint"


def _is_shape(text: str) -> bool:
    return bool(_SHAPE.match(text)) and "," in text


def _is_array(text: str) -> bool:
    return is_tensor_text(text) or bool(_CALL_START.match(text))


def _shape(name: str, text: str, c: TensorContext) -> np.ndarray:
    return parse_tensor(name, f"randn({text.rstrip(', ')})", seed=c.seed, index=c.index, base_dir=c.base_dir)


def _array(name: str, text: str, c: TensorContext) -> np.ndarray:
    array = parse_tensor(name, text, seed=c.seed, index=c.index, base_dir=c.base_dir)
    return array.astype(np.int64) if _integer_source(text, array, Path(c.base_dir)) else array


def _other(name: str, text: str, c: TensorContext) -> Any:
    """Any other argument: one YAML value, read as spec overrides read theirs."""
    try:
        return SPEC_VALUES.parse(name, text)
    except SpecError as err:
        raise UsageError(f"{name}={text}: not a shape, an array or YAML ({err.problems[0].message})") from None
def _integer_source(text: str, array: np.ndarray, base_dir: Path) -> bool:
    """A list written without decimal points or exponents, or an integer .npy file."""
    if not np.all(np.mod(array, 1) == 0):
        return False
    if text.startswith("["):
        return not re.search(r"[.eE]", text)
    if text.startswith("@") and text.lower().endswith(".npy"):
        try:
            with (base_dir / text[1:]).open("rb") as handle:
                version = np.lib.format.read_magic(handle)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                return read(handle)[2].kind in "iu"
        except (OSError, ValueError):
            return False
    return False


def _randint(name: str, text: str, c: TensorContext) -> np.ndarray:
    parts = split_call(text).arguments
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"{name}={text}: randint(HIGH, SIZES...) with whole numbers, e.g. randint(10, 4)")
    high, shape = int(parts[0]), tuple(int(p) for p in parts[1:])
    if high < 1 or min(shape) < 1:
        raise UsageError(f"{name}={text}: HIGH and the sizes must be at least 1")
    if int(np.prod(shape, dtype=np.int64)) > MAX_ENTRIES:
        raise UsageError(f"{name}={text}: more than {MAX_ENTRIES:,} entries")
    return np.random.default_rng([c.seed, c.index]).integers(0, high, size=shape)


FN_VALUES = ValueGrammar(
    ValueForm("randint", _is_randint, _randint),
    ValueForm("shape", _is_shape, _shape),
    ValueForm("array", _is_array, _array),
    ValueForm("yaml", lambda text: True, _other),
)  # context: a TensorContext (seed, the token's index, the folder of @files)
