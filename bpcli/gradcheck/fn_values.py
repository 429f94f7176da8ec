"""Values of NAME=VALUE tokens for `gradcheck --fn`: arrays and the other arguments.

Arrays are read by the one tensor-value parser `trace` uses (bpcli.expr.values): nested lists
(`[0, 2, 1]`), seeded constructors (`randn(4,3)`, `rand`, `zeros`, `ones`, `eye`, `arange`) and
`@file.npy` / `@file.csv`. Added here for functions: a bare shape (`4,3,5,5`, or `5,` for one
axis) means `randn(4,3,5,5)`; `randint(HIGH, SIZES...)` draws integer labels in [0, HIGH); and
integers stay integers (a list without a decimal point, an integer .npy: labels index arrays).
Anything else is YAML flow syntax, read with the safe loader: `0.1`, `true`, `train`,
`{stride: 2, pad: 1}`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bpcli.errors import UsageError
from bpcli.expr.values import MAX_ENTRIES, is_tensor_text, parse_tensor

_SHAPE = re.compile(r"^\s*\d+\s*(,\s*\d+\s*)*,?\s*$")
_RANDINT = re.compile(r"^\s*randint\s*\((.*)\)\s*$")


def parse_fn_value(name: str, text: str, *, seed: int = 0, index: int = 0, base_dir: Path = Path(".")):
    """The value one token gives an argument (see the module docstring); `index` is the token's
    position, which gives each random array its own stream."""
    text = text.strip()
    randint = _RANDINT.match(text)
    if randint:
        return _randint(name, text, randint.group(1), seed, index)
    if _SHAPE.match(text) and "," in text:
        return parse_tensor(name, f"randn({text.rstrip(', ')})", seed=seed, index=index, base_dir=base_dir)
    if is_tensor_text(text) or re.match(r"^[A-Za-z_]\w*\s*\(", text):  # a call, even a broken one
        array = parse_tensor(name, text, seed=seed, index=index, base_dir=base_dir)
        return array.astype(np.int64) if _integer_source(text, array, base_dir) else array
    import yaml

    try:
        return yaml.safe_load(text) if text else None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UsageError(f"{name}={text}: not a shape, an array or YAML ({problem})") from None


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


def _randint(name: str, text: str, inside: str, seed: int, index: int) -> np.ndarray:
    parts = [p.strip() for p in inside.split(",")]
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"{name}={text}: randint(HIGH, SIZES...) with whole numbers, e.g. randint(10, 4)")
    high, shape = int(parts[0]), tuple(int(p) for p in parts[1:])
    if high < 1 or min(shape) < 1:
        raise UsageError(f"{name}={text}: HIGH and the sizes must be at least 1")
    if int(np.prod(shape, dtype=np.int64)) > MAX_ENTRIES:
        raise UsageError(f"{name}={text}: more than {MAX_ENTRIES:,} entries")
    return np.random.default_rng([seed, index]).integers(0, high, size=shape)
