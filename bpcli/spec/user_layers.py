"""A user's own layer: `path/to/file.py:ClassName` (relative to the spec) or `package.module:ClassName`.

Loading a user layer runs the user's Python file, as importing any plugin does; the YAML
itself stays data. The class must subclass bpcli.nn.layer.Layer.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from bpcli.errors import did_you_mean


class UserLayerError(Exception):
    """Why a user-layer reference could not be loaded (placed at the `type:` line by validation)."""


def is_user_layer(type_name: Any) -> bool:
    """True for `something:ClassName` references."""
    return isinstance(type_name, str) and ":" in type_name


_loaded_files: dict[Path, Any] = {}


def load_user_layer(reference: str, base_dir: Path) -> type:
    """Resolve a reference to a Layer subclass, or raise UserLayerError saying what is wrong."""
    from bpcli.nn.layer import Layer

    where, _, class_name = reference.rpartition(":")
    if not where or not class_name.isidentifier():
        raise UserLayerError(
            f"user layer '{reference}' must look like path/to/file.py:ClassName or package.module:ClassName"
        )
    if where.endswith(".py") or "/" in where or "\\" in where:
        module = _load_file(Path(where), base_dir)
    else:
        module = _import_module(where)
    cls = getattr(module, class_name, None)
    if cls is None:
        candidates = [
            n for n, v in vars(module).items()
            if inspect.isclass(v) and issubclass(v, Layer) and v.__module__ == module.__name__
        ]
        listing = f"; layers there: {', '.join(candidates)}" if candidates else ""
        raise UserLayerError(
            f"'{where}' has no class '{class_name}'{did_you_mean(class_name, candidates)}{listing}"
        )
    if not (inspect.isclass(cls) and issubclass(cls, Layer)):
        raise UserLayerError(
            f"'{reference}' is not a Layer: user layers must subclass bpcli.nn.layer.Layer"
        )
    return cls


def _load_file(relative: Path, base_dir: Path) -> Any:
    path = (base_dir / relative).resolve()
    if not path.is_file():
        raise UserLayerError(f"user layer file '{relative}' not found (looked in {path.parent})")
    if path in _loaded_files:
        return _loaded_files[path]
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"bpcli_user_layers_{path.stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise UserLayerError(f"cannot load '{relative}' as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's code failed: say where, without a traceback
        del sys.modules[name]
        raise UserLayerError(f"importing '{relative}' failed: {type(err).__name__}: {err}") from None
    _loaded_files[path] = module
    return module


def _import_module(dotted: str) -> Any:
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as err:
        raise UserLayerError(f"module '{dotted}' not found ({err})") from None
    except Exception as err:
        raise UserLayerError(f"importing '{dotted}' failed: {type(err).__name__}: {err}") from None
