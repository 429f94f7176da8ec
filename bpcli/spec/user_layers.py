"""A user's own layer: `path/to/file.py:ClassName` (relative to the spec) or `package.module:ClassName`.

Loading a user layer runs the user's Python file, as importing any plugin does; the YAML
itself stays data. The class must subclass bpcli.nn.layer.Layer.

The class handed out is a thin subclass that turns any exception escaping the user's
__init__/build/forward/backward/kink_state (other than a BpcliError) into UserLayerFailed (exit 2), which
names the method, the node, the exception and the line of the user's file: a bug in the user's
code is reported as such, while a bug in a built-in layer stays an internal error.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

from bpcli.errors import BpcliError, did_you_mean

WRAPPED_METHODS = ("__init__", "build", "forward", "backward", "kink_state")


class UserLayerError(Exception):
    """Why a user-layer reference could not be loaded (placed at the `type:` line by validation)."""


class UserLayerFailed(BpcliError):
    """A user layer's own code raised in build/forward/backward/kink_state (exit 2)."""


def is_user_layer(type_name: Any) -> bool:
    """True for `something:ClassName` references."""
    return isinstance(type_name, str) and ":" in type_name


_loaded_files: dict[Path, Any] = {}


def load_user_module(where: str, base_dir: Path, *, what: str = "user layer file") -> Any:
    """path/to/file.py (relative to base_dir) or package.module, imported once; `what` names a
    missing file in the error."""
    if where.endswith(".py") or "/" in where or "\\" in where:
        return _load_file(Path(where), base_dir, what)
    return _import_module(where)


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
    return _guarded(cls, where)


_guarded_classes: dict[tuple[type, str], type] = {}


def _guarded(cls: type, where: str) -> type:
    """cls with each user method wrapped by `_reporting` (one subclass per class, reused)."""
    key = (cls, where)
    if key not in _guarded_classes:
        user_file = getattr(sys.modules.get(cls.__module__), "__file__", None)
        methods = {
            name: _reporting(getattr(cls, name), name, f"{where}:{cls.__name__}", user_file)
            for name in WRAPPED_METHODS
        }
        guarded = type(cls.__name__, (cls,), {**methods, "__doc__": cls.__doc__, "__module__": cls.__module__})
        guarded.__qualname__ = cls.__qualname__
        _guarded_classes[key] = guarded
    return _guarded_classes[key]


def _reporting(method: Callable, method_name: str, label: str, user_file: Optional[str]) -> Callable:
    # __init__ may raise ValueError/TypeError on purpose: validation places those at the option
    passes = (BpcliError, ValueError, TypeError) if method_name == "__init__" else (BpcliError,)

    @functools.wraps(method)  # keeps the user's signature and annotations (the layer's options)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except passes:
            raise
        except Exception as err:
            raise UserLayerFailed(_failure(err, f"{label}.{method_name}", self, user_file)) from err

    return call


def _failure(err: Exception, label: str, layer: Any, user_file: Optional[str]) -> str:
    """E.g. user layer my.py:Boom.forward (node 'boom1') raised RuntimeError: boom [my.py:17: raise ...]."""
    node = f" (node '{layer.name}')" if getattr(layer, "name", "") else ""
    text = str(err)
    detail = f"{type(err).__name__}: {text}" if text else type(err).__name__
    frames = [f for f in traceback.extract_tb(err.__traceback__) if user_file and f.filename == user_file]
    line = ""
    if frames:
        source = f": {frames[-1].line.strip()}" if frames[-1].line else ""
        line = f" [{Path(user_file).name}:{frames[-1].lineno}{source}]"
    return f"user layer {label}{node} raised {detail}{line}"


def _load_file(relative: Path, base_dir: Path, what: str = "user layer file") -> Any:
    path = (base_dir / relative).resolve()
    if not path.is_file():
        raise UserLayerError(f"{what} '{relative}' not found (looked in {path.parent})")
    if path in _loaded_files:
        return _loaded_files[path]
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"bpcli_user_layers_{path.stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise UserLayerError(f"cannot load '{relative}' as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))  # so the file can import its neighbours
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's code failed: say where, without a traceback
        del sys.modules[name]
        raise UserLayerError(f"importing '{relative}' failed: {type(err).__name__}: {err}") from None
    finally:
        sys.path.remove(str(path.parent))
    _loaded_files[path] = module
    return module


def _import_module(dotted: str) -> Any:
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as err:
        raise UserLayerError(f"module '{dotted}' not found ({err})") from None
    except Exception as err:
        raise UserLayerError(f"importing '{dotted}' failed: {type(err).__name__}: {err}") from None
