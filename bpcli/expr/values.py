"""Tensor values for NAME=VALUE: nested lists, seeded constructors and array files.

`[1,2,3]`, `[[1,2],[3,4]]`; `randn(3,4)`, `rand(3,4)`, `zeros(3)`, `ones(2,3)`, `eye(3)`,
`arange(4)` (seeded: the same seed and name give the same numbers); `@weights.npy` (read with
allow_pickle=False) and `@data.csv` (numbers separated by commas, one row per line). Every
size is checked against a budget before anything is allocated. The library parses values
here, so `trace`, `gradcheck` and notebooks read them the same way: `TENSOR` is the value form
that the NAME=VALUE grammar of `bpcli/assignments.py` plugs in (`TENSOR_VALUES`). User text is data: it is
read by `json` and regular expressions, never evaluated.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, Optional

from bpcli.assignments import NUMBERS, ValueForm
from bpcli.errors import UsageError

# json and pathlib are imported where a tensor is read: `trace` of scalars only needs
# is_tensor_text, and its start-up pays for every module imported here.

MAX_ENTRIES = 10_000_000  # the budget of one value (80 MB in float64)
MAX_CSV_BYTES = 200_000_000

CONSTRUCTORS = ("randn", "rand", "zeros", "ones", "eye", "arange")
_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.S)
_DIMENSION = re.compile(r"^\s*\d+\s*$")


def is_tensor_text(text) -> bool:
    """Whether a NAME=VALUE value is a tensor form (a list, a constructor call or @file); a
    value given from Python that is not a number (an array, a list) is a tensor too."""
    if not isinstance(text, str):
        return not isinstance(text, (int, float))
    stripped = text.strip()
    return stripped.startswith(("[", "@")) or bool(_CALL.match(stripped))


def parse_tensor(name: str, text: str, *, seed: int = 0, index: int = 0, base_dir=None):
    """The array a tensor form names, float64; a UsageError saying what is wrong otherwise.

    `seed` and `index` (the variable's position) seed the random constructors, so each variable
    gets its own stream and the same command gives the same numbers.
    """
    import numpy as np
    from pathlib import Path

    array = _parse(name, text, seed, index, Path(".") if base_dir is None else Path(base_dir))
    if not np.all(np.isfinite(array)):
        raise UsageError(f"value of '{name}' must be finite numbers: it has nan or inf")
    return array


class TensorContext(NamedTuple):
    """What a tensor form needs: the seed and the variable's position (its own random stream), the folder of @files."""

    seed: int = 0
    index: int = 0
    base_dir: Optional[Any] = None  # a path; None = the working directory


TENSOR = ValueForm("tensor", is_tensor_text,
                   lambda name, text, c: parse_tensor(name, text, seed=c.seed, index=c.index, base_dir=c.base_dir))
TENSOR_VALUES = NUMBERS.plus(TENSOR)  # trace values: a tensor form, else a finite number


def _parse(name: str, text: str, seed: int, index: int, base_dir):
    import numpy as np

    stripped = text.strip()
    if stripped.startswith("["):
        return _nested_list(name, stripped)
    if stripped.startswith("@"):
        return _from_file(name, base_dir / stripped[1:])
    call = _CALL.match(stripped)
    if call is None:
        raise UsageError(f"value of '{name}' is not a number, a list, a constructor or @file: '{text}'")
    function, inner = call.group(1), call.group(2)
    if function not in CONSTRUCTORS:
        from bpcli.errors import did_you_mean

        raise UsageError(
            f"value of '{name}': unknown constructor '{function}'{did_you_mean(function, CONSTRUCTORS)}; "
            f"constructors: {', '.join(CONSTRUCTORS)}"
        )
    pieces = [p for p in inner.split(",")] if inner.strip() else []
    if not pieces or not all(_DIMENSION.match(p) for p in pieces):
        raise UsageError(f"value of '{name}': {function}() takes sizes that are whole numbers, like {function}(3,4)")
    shape = tuple(int(p) for p in pieces)
    if function == "eye":
        if len(shape) != 1:
            raise UsageError(f"value of '{name}': eye() takes one size, like eye(3)")
        shape = (shape[0], shape[0])
    if function == "arange" and len(shape) != 1:
        raise UsageError(f"value of '{name}': arange() takes one size, like arange(4)")
    _check_budget(name, shape)
    rng = np.random.default_rng([seed, index])
    if function == "randn":
        return rng.standard_normal(shape)
    if function == "rand":
        return rng.random(shape)
    if function == "zeros":
        return np.zeros(shape)
    if function == "ones":
        return np.ones(shape)
    if function == "eye":
        return np.eye(shape[0])
    return np.arange(shape[0], dtype=float)


def as_tensor(name: str, value: Any):
    """An array-like given from Python (a notebook: a NumPy array, a nested list) as float64,
    with the same checks as text: a plain array of finite numbers within the budget."""
    import numpy as np

    shape = np.shape(value)
    _check_budget(name, shape)
    try:
        array = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise UsageError(f"value of '{name}' is not an array of numbers") from None
    if not np.all(np.isfinite(array)):
        raise UsageError(f"value of '{name}' must be finite numbers: it has nan or inf")
    return array


def _check_budget(name: str, shape: tuple) -> None:
    entries = 1
    for n in shape:
        entries *= n
    if entries > MAX_ENTRIES:
        dims = "×".join(str(n) for n in shape)
        raise UsageError(
            f"value of '{name}' is too large: {dims} = {entries:,} entries (limit {MAX_ENTRIES:,})"
        )


def _nested_list(name: str, text: str):
    import json

    import numpy as np

    if len(text) > 8 * MAX_ENTRIES:
        raise UsageError(f"value of '{name}' is too large: {len(text):,} characters")
    try:
        data = json.loads(text)
    except ValueError:
        raise UsageError(
            f"value of '{name}' is not a nested list of numbers: '{_short(text)}' (write [1, 2.5, -3])"
        ) from None
    shape = _list_shape(name, data)
    _check_budget(name, shape)
    return np.array(data, dtype=float).reshape(shape)


def _list_shape(name: str, data: Any) -> tuple:
    """The shape of a nested list, walking it level by level (no recursion); ragged is an error."""
    import json

    shape: list[int] = []
    level = [data]
    while True:
        lists = [isinstance(item, list) for item in level]
        if not any(lists):
            break
        if not all(lists):
            raise UsageError(f"value of '{name}' is a ragged nested list: numbers and lists mixed at depth {len(shape) + 1}")
        lengths = {len(item) for item in level}
        if len(lengths) > 1:
            a, b = sorted(lengths)[:2]
            raise UsageError(f"value of '{name}' is a ragged nested list: rows of lengths {a} and {b} at depth {len(shape) + 1}")
        (length,) = lengths
        if length == 0:
            raise UsageError(f"value of '{name}' is empty: give at least one number")
        shape.append(length)
        level = [entry for item in level for entry in item]
    for item in level:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise UsageError(f"value of '{name}' has an entry that is not a number: {json.dumps(item)}")
    return tuple(shape)


def _from_file(name: str, path):
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _from_npy(name, path)
    if suffix == ".csv":
        return _from_csv(name, path)
    raise UsageError(f"value of '{name}': @{path} must be a .npy or .csv file")


def _from_npy(name: str, path):
    import numpy as np

    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            if dtype.hasobject or dtype.names is not None or dtype.kind not in "biuf":
                raise UsageError(f"value of '{name}': {path} is not a plain array of numbers (dtype {dtype})")
            _check_budget(name, tuple(shape))
            handle.seek(0)
            array = np.load(handle, allow_pickle=False)
    except OSError as err:
        raise UsageError(f"value of '{name}': cannot read {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise UsageError(f"value of '{name}': {path} is not a plain .npy array: {err}") from None
    return np.asarray(array, dtype=float)


def _from_csv(name: str, path):
    import numpy as np

    try:
        size = path.stat().st_size
    except OSError as err:
        raise UsageError(f"value of '{name}': cannot read {path}: {err.strerror or err}") from None
    if size > MAX_CSV_BYTES:
        raise UsageError(f"value of '{name}': {path} is too large ({size:,} bytes, limit {MAX_CSV_BYTES:,})")
    try:
        array = np.loadtxt(path, delimiter=",", dtype=float, ndmin=1)
    except (ValueError, OSError) as err:
        raise UsageError(f"value of '{name}': {path} is not a CSV of numbers: {str(err).splitlines()[0]}") from None
    if array.size == 0:
        raise UsageError(f"value of '{name}': {path} has no numbers")
    return array


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
