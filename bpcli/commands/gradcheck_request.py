"""What `bpcli gradcheck TARGET ...` means: check the flags, guess what TARGET is, call one
library check (bpcli.gradcheck.check).

TARGET is a spec (an existing file, or a built-in name like `spiral`) whose NAME=VALUE tokens
are overrides; otherwise, if it parses as an expression, an expression whose NAME=VALUE tokens
are variable values (the rest are drawn with the seed, as `trace` does). `--layer FILE.py:Class`
checks a user's layer alone on each of its `examples`; `--layer NAME` a built-in layer (a LAYERS
name) on its first example; NAME=VALUE tokens are then the layer's options and `--shape` its
per-example input shape. `--layers` checks every layer of a spec alone, or with no TARGET every
built-in layer on each of its `examples`. `--fn FILE.py:NAME` checks CS231n-style functions:
NAME=VALUE tokens are their arguments (and a class's constructor arguments).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from bpcli.errors import SpecError, UsageError, did_you_mean
from bpcli.gradcheck.check import DEFAULT_BATCH, TargetReport
from bpcli.gradcheck.runner import MODES

DTYPES = ("float64", "float32")


@dataclass
class GradcheckRequest:
    """Everything the command line can ask for."""

    target: Optional[str] = None
    assignments: list = field(default_factory=list)  # [(name, value text)]
    layers: bool = False
    split: bool = False
    layer: Optional[str] = None  # "path/file.py:Class", "package.module:Class" or a LAYERS name
    shape: Optional[str] = None  # per-example input shape for --layer: "4", "2,3,3", "4;4"
    fn: Optional[str] = None  # "file.py:affine_forward", "file.py:fwd,bwd", "file.py:Net.loss"
    wrt: Optional[str] = None  # "W" or "W1,b1" (loss functions)
    dtype: str = "float64"
    mode: str = "auto"
    k: Optional[int] = None
    h: Optional[float] = None
    sweep: bool = False
    seed: Optional[int] = None
    batch: int = DEFAULT_BATCH
    base_dir: Path = field(default_factory=Path.cwd)


def _normalize(req: GradcheckRequest) -> None:
    """`--layer F.py:C units=7`: the first NAME=VALUE lands in TARGET's place; move it back."""
    if (req.layer is not None or req.fn is not None) and req.target is not None and _is_assignment(req.target):
        name, _, value = req.target.partition("=")
        req.assignments = [(name.strip(), value.strip())] + list(req.assignments)
        req.target = None


def _is_assignment(token: str) -> bool:
    name, eq, _ = token.partition("=")
    return bool(eq) and name.strip().replace(".", "_").isidentifier() and not Path(token).exists()


def _validate(req: GradcheckRequest) -> None:
    if req.mode not in MODES:
        raise UsageError(f"unknown --mode '{req.mode}'; choose from: {', '.join(MODES)}")
    if req.dtype not in DTYPES:
        raise UsageError(f"unknown --dtype '{req.dtype}'{did_you_mean(req.dtype, DTYPES)}; choose from: {', '.join(DTYPES)}")
    if req.k is not None and req.k < 1:
        raise UsageError(f"--k must be at least 1, got {req.k}")
    if req.h is not None and not (0 < req.h < 1):
        raise UsageError(f"--h must be in (0, 1), got {req.h}")
    if req.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {req.batch}")
    if req.fn is not None and (req.target or req.layer or req.layers or req.split or req.shape):
        raise UsageError("--fn checks functions alone: give no TARGET, --layer, --layers, --split or --shape with it")
    if req.wrt is not None and req.fn is None:
        raise UsageError("--wrt names what a loss function's gradient is of; it goes with --fn")
    if req.layer and req.target:
        raise UsageError("give either a TARGET or --layer FILE.py:Class, not both")
    if req.shape is not None and req.layer is None:
        raise UsageError("--shape is the input shape for --layer; give --layer NAME or FILE.py:Class")
    if req.split and (req.layer is not None or req.layers):
        raise UsageError("--split checks a spec's full loss; it does not go with --layer or --layers")
    if req.target is None and req.layer is None and req.fn is None and req.assignments:
        raise UsageError("NAME=VALUE tokens need a TARGET (a spec or an expression), --layer or --fn")
    if req.layer is None and req.target is None and req.fn is None and not req.layers:
        raise UsageError(
            "nothing to check: give a spec file, a built-in spec name, an expression, "
            "--layer FILE.py:Class or NAME (a built-in layer), --fn FILE.py:function, "
            "or --layers alone for every built-in layer"
        )


def run_request(req: GradcheckRequest) -> TargetReport:
    """Resolve the target and check it."""
    from bpcli.gradcheck import check

    _normalize(req)
    _validate(req)
    run = dict(mode=req.mode, k=req.k, h=req.h, sweep=req.sweep, dtype=req.dtype)
    if req.fn is not None:
        return _run_functions(req, run)
    if req.layer is not None:
        if _is_builtin_reference(req.layer):
            return _run_builtin_layer(req, run)
        cls = _user_layer(req.layer, req.base_dir)
        name = req.layer.rpartition(":")[2]
        shape = _parse_shape(req.shape, cls, check.examples_of(cls)[0][1]) if req.shape else None
        report = check.check_layer(cls, shape, options=_layer_options(name, cls, req.assignments),
                                   seed=_seed(req), **run)
        report.description = req.layer
        return report
    if req.target is None:
        return check.check_builtin_layers(seed=_seed(req), **run)
    if _is_assignment(req.target):
        raise UsageError(f"'{req.target}' is a NAME=VALUE token: give the TARGET (a spec or an "
                         "expression) before it")
    if _is_spec(req.target):
        overrides = [f"{name}={value}" for name, value in req.assignments]
        if req.layers:
            return check.check_spec_layers(req.target, overrides, seed=req.seed, **run)
        return check.check_spec(req.target, overrides, batch=req.batch, split=req.split,
                                seed=req.seed, **run)
    _parse_expression(req.target)
    if req.split or req.layers:
        raise UsageError("--split and --layers apply to specs, not to expressions")
    if req.dtype != "float64":
        raise UsageError("--dtype float32 applies to layers, functions and specs; expressions are checked in float64")
    return check.check_expression(req.target, req.assignments, seed=_seed(req), **run)


def _seed(req: GradcheckRequest, default: int = 0) -> int:
    return default if req.seed is None else req.seed


def _is_builtin_reference(reference: str) -> bool:
    """A bare name (dense, relu): not FILE.py:Class, package.module:Class or a path."""
    return ":" not in reference and "/" not in reference and not reference.endswith(".py")


def _run_builtin_layer(req: GradcheckRequest, run: dict) -> TargetReport:
    """A built-in layer on its first example, with NAME=VALUE options and an optional --shape."""
    from bpcli.gradcheck import check
    from bpcli.nn.layer import LAYERS

    check.import_all_layers()
    name = req.layer.strip()
    if name not in LAYERS:
        raise UsageError(
            f"--layer: unknown layer '{name}'{did_you_mean(name, LAYERS.names())}; give a built-in "
            f"layer ({', '.join(LAYERS.names())}) or path/to/file.py:ClassName"
        )
    cls = LAYERS.get(name)
    shape = _parse_shape(req.shape, cls, check.examples_of(cls)[0][1]) if req.shape else None
    return check.check_layer(name, shape, options=_layer_options(name, cls, req.assignments),
                             seed=_seed(req), **run)


def _parse_shape(text: str, cls, example_shape) -> object:
    """'4' -> (4,), '2,3,3' (or 2x3x3) -> (2, 3, 3); multi-input layers: '4;4', or one shape for all."""
    def one(part: str) -> tuple:
        items = [t for t in part.replace("x", ",").replace(" ", ",").split(",") if t]
        try:
            dims = tuple(int(t) for t in items)
        except ValueError:
            dims = ()
        if not dims or min(dims) < 1:
            raise UsageError(f"--shape '{text}': give positive whole numbers like 4 or 2,3,3 "
                             "(per example, without the batch dimension)")
        return dims

    shapes = [one(part) for part in text.split(";")]
    if getattr(cls, "n_inputs", 1) == 1:
        if len(shapes) > 1:
            raise UsageError(f"--shape '{text}': this layer takes one input; give one shape")
        return shapes[0]
    if len(shapes) == 1:  # the same shape for every input of the example
        return shapes * max(2, len(example_shape) if isinstance(example_shape, list) else 2)
    return shapes


def _is_spec(target: str) -> bool:
    from bpcli.spec import builtin_names

    path = Path(target)
    if path.is_file() or path.suffix in (".yaml", ".yml"):
        return True
    return target in builtin_names()


def _parse_expression(text: str):
    """The target as an expression; a bare name or a path-like target is a missing spec."""
    from bpcli.errors import ExprError
    from bpcli.expr import parse
    from bpcli.spec import builtin_names

    names = builtin_names()
    not_a_spec = UsageError(
        f"'{text}' is not a spec file, a built-in spec{did_you_mean(text, names)} or an expression; "
        f"built-in specs: {', '.join(names) or 'none'}"
    )
    if text.strip().isidentifier():  # a lone name: a mistyped spec, not a useful expression
        raise not_a_spec
    parent = Path(text).parent
    if "/" in text and " " not in text and parent != Path(".") and parent.is_dir():
        raise not_a_spec  # configs/spiral: a path to a file that is not there, not a division
    try:
        return parse(text)
    except ExprError:
        if text.endswith((".yaml", ".yml", ".py")):
            raise not_a_spec from None
        raise


def _user_layer(reference: str, base_dir: Path):
    from bpcli.spec.user_layers import UserLayerError, load_user_layer

    try:
        return load_user_layer(reference, base_dir)
    except UserLayerError as err:
        raise UsageError(f"--layer: {err}") from None


def _layer_options(layer_name: str, cls, assignments: list) -> dict:
    """NAME=VALUE tokens for --layer: constructor options, values read as in a spec (`5`, `1e-3`,
    `true`, `null`, `[1, 2]`, text)."""
    from bpcli.assignments import SPEC_VALUES

    from bpcli.registry import options_of

    known = list(options_of(cls))
    open_ended = any(p.kind == p.VAR_KEYWORD
                     for p in inspect.signature(cls.__init__).parameters.values())
    options = {}
    for name, text in assignments:
        if not open_ended and name not in known:
            choices = f"; its options: {', '.join(known)}" if known else "; it takes no options"
            raise UsageError(f"--layer {layer_name}: no option '{name}'{did_you_mean(name, known)}{choices}")
        try:
            options[name] = SPEC_VALUES.parse(name, text)
        except SpecError as err:
            raise UsageError(f"--layer {layer_name}: {name}={text}: {err.problems[0].message}") from None
    return options


# ---- --fn -------------------------------------------------------------------------------------

def _run_functions(req: GradcheckRequest, run: dict) -> TargetReport:
    """--fn FILE.py:fwd[,bwd] (a pair), FILE.py:loss_fn or FILE.py:Class.method (a loss)."""
    from bpcli.gradcheck import check
    from bpcli.gradcheck.fn_values import parse_fn_value

    module, names = _fn_module(req.fn, req.base_dir)
    seed = _seed(req)
    values = {n: parse_fn_value(n, t, seed=seed, index=i, base_dir=req.base_dir)
              for i, (n, t) in enumerate(req.assignments)}
    wrt = [w.strip() for w in req.wrt.split(",") if w.strip()] if req.wrt else None
    where = req.fn.rpartition(":")[0]
    if len(names) == 2:
        forward, backward = (_fn_attribute(module, where, n) for n in names)
        return _described(check.check_functions(forward, backward, values, seed=seed, **run), req.fn)
    name = names[0]
    if "." in name:
        return _run_method(module, where, name, values, wrt, seed, run, req.fn)
    fn = _fn_attribute(module, where, name)
    if "forward" in name:
        back = name.replace("forward", "backward")
        if not callable(getattr(module, back, None)):
            found = [n for n in vars(module) if "backward" in n and callable(getattr(module, n))]
            listing = f" (backward functions there: {', '.join(found)})" if found else ""
            raise UsageError(f"--fn: '{where}' has no '{back}' beside '{name}'{did_you_mean(back, found)}; "
                             f"name both: --fn {where}:{name},BACKWARD{listing}")
        return _described(check.check_functions(fn, getattr(module, back), values, seed=seed, **run),
                          f"{where}:{name} / {back}")
    return _described(check.check_loss(fn, values, wrt=wrt, seed=seed, **run), req.fn)


def _described(report: TargetReport, text: str) -> TargetReport:
    report.description = text
    return report


def _fn_module(reference: str, base_dir: Path):
    from bpcli.spec.user_layers import UserLayerError, load_user_module

    where, _, names = reference.rpartition(":")
    parts = [n.strip() for n in names.split(",")]
    if not where or not 1 <= len(parts) <= 2 or not all(p.replace(".", "_").isidentifier() for p in parts):
        raise UsageError(f"--fn '{reference}': give FILE.py:forward_fn (its backward is found beside it), "
                         "FILE.py:forward_fn,backward_fn, FILE.py:loss_fn or FILE.py:Class.loss")
    try:
        return load_user_module(where, base_dir, what="file"), parts
    except UserLayerError as err:
        raise UsageError(f"--fn: {err}") from None


def _fn_attribute(module, where: str, name: str):
    value = getattr(module, name, None)
    if value is None:
        found = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__]
        listing = f"; there: {', '.join(found)}" if found else ""
        raise UsageError(f"--fn: '{where}' has no '{name}'{did_you_mean(name, found)}{listing}")
    if not callable(value):
        raise UsageError(f"--fn: '{where}:{name}' is not a function")
    return value


def _run_method(module, where: str, dotted: str, values: dict, wrt, seed: int, run: dict,
                text: str) -> TargetReport:
    """Class.method: NAME=VALUE tokens go to the constructor or the method by name (init.NAME: constructor)."""
    from bpcli.gradcheck import check

    class_name, _, method = dotted.partition(".")
    cls = _fn_attribute(module, where, class_name)
    if not inspect.isclass(cls) or not callable(getattr(cls, method, None)):
        raise UsageError(f"--fn: '{where}:{class_name}' has no method '{method}'")
    init_names = [n for n in inspect.signature(cls).parameters]
    method_names = [n for n in inspect.signature(getattr(cls, method)).parameters if n != "self"]
    init_args, call_args = {}, {}
    for name, value in values.items():
        if name.startswith("init."):
            init_args[name[5:]] = value
        elif name in method_names and name in init_names:
            raise UsageError(f"'{name}' is an argument of {class_name}() and of {method}(): write "
                             f"init.{name}=... for the constructor")
        elif name in init_names:
            init_args[name] = value
        else:
            call_args[name] = value
    try:
        instance = cls(**init_args)
    except TypeError as err:
        raise UsageError(f"{class_name}(...): {err}; its arguments: {', '.join(init_names)}") from None
    return _described(check.check_loss(getattr(instance, method), call_args, wrt=wrt, seed=seed, **run), text)


__all__ = ["GradcheckRequest", "run_request"]
