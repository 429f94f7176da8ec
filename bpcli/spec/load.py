"""load_spec: a path or a built-in name -> a validated Spec."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Iterable, Union

from bpcli.errors import SpecError, SpecProblem
from bpcli.input_files import read_limited, special_kind
from bpcli.spec.validate import Spec, validate_spec
from bpcli.spec.yaml_loader import parse_yaml


MAX_SPEC_BYTES = 1_000_000  # a spec is a page of YAML; checked before it is read or parsed


def builtin_dir() -> Path:
    """The packaged configs directory (works from a checkout and after `pip install .`)."""
    return Path(str(resources.files("bpcli") / "configs"))


def builtin_names() -> list[str]:
    """Names `load_spec` accepts instead of a path: spiral, xor, cnn ..."""
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def resolve_source(source: Union[str, Path]) -> Path:
    """A path that exists, else the built-in spec of that name, else a SpecError listing them."""
    path = Path(source)
    if path.is_file():
        return path
    name = str(source)
    name = name[:-5] if name.endswith(".yaml") else name
    builtin = builtin_dir() / f"{name}.yaml"
    if "/" not in name and builtin.is_file():
        return builtin
    kind = special_kind(path)
    if kind:
        raise SpecError(SpecProblem(f"is {kind}, not a spec file", "", str(source)))
    what = "is a directory, not a spec file" if path.is_dir() else "not found"
    raise SpecError(
        SpecProblem(f"spec file {what}; built-in specs: {', '.join(builtin_names())}", "", str(source))
    )


def load_spec(source: Union[str, Path], overrides: Iterable[str] = ()) -> Spec:
    """Read, override and validate a spec file or built-in spec."""
    path = resolve_source(source)
    label = str(source) if Path(source).is_file() else str(path)
    try:
        data = read_limited(path, MAX_SPEC_BYTES, "spec file")
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise SpecError(SpecProblem(f"the spec is not UTF-8 text (byte 0x{data[err.start]:02x})", "", label, line, col)) from None
    except ValueError as err:  # too large, or not a regular file
        raise SpecError(SpecProblem(f"cannot read the spec: {err}", "", label)) from None
    except OSError as err:
        raise SpecError(SpecProblem(f"cannot read the spec: {err.strerror or err}", "", label)) from None
    raw, positions = parse_yaml(text, label)
    return validate_spec(raw, positions, label, path.resolve().parent, list(overrides), path)


def load_spec_text(text: str, overrides: Iterable[str] = (), base_dir: Union[str, Path] = ".", file: str = "<spec>") -> Spec:
    """Validate spec text that is not in a file (tests, tools)."""
    raw, positions = parse_yaml(text, file)
    return validate_spec(raw, positions, file, Path(base_dir).resolve(), list(overrides), None)
