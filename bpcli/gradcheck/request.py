"""What `bpcli gradcheck TARGET ...` means: resolve the target, build its objectives, run them.

TARGET is a spec (an existing file, or a built-in name like `spiral`) whose NAME=VALUE tokens
are overrides; otherwise, if it parses as an expression, an expression whose NAME=VALUE tokens
are variable values (the rest are drawn with the seed, as `trace` does). `--layer FILE.py:Class`
checks a user's layer alone on each of its `examples`; `--layer NAME` a built-in layer (a LAYERS
name) on its first example; NAME=VALUE tokens are then the layer's options and `--shape` its
per-example input shape. `--layers` checks every layer of a spec alone, or with no TARGET every
built-in layer on each of its `examples`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from bpcli.errors import BpcliError, DataError, UsageError
from bpcli.gradcheck.runner import MODES, GradcheckReport, run_gradcheck
from bpcli.gradcheck.targets import layer_objective, model_objectives

DEFAULT_BATCH = 8


@dataclass
class GradcheckRequest:
    """Everything the command line can ask for."""

    target: Optional[str] = None
    assignments: list = field(default_factory=list)  # [(name, value text)]
    layers: bool = False
    split: bool = False
    layer: Optional[str] = None  # "path/file.py:Class", "package.module:Class" or a LAYERS name
    shape: Optional[str] = None  # per-example input shape for --layer: "4", "2,3,3", "4;4"
    mode: str = "auto"
    k: Optional[int] = None
    h: Optional[float] = None
    sweep: bool = False
    seed: Optional[int] = None
    batch: int = DEFAULT_BATCH
    base_dir: Path = field(default_factory=Path.cwd)


@dataclass
class TargetReport:
    """The report plus what was checked, for the renderers."""

    kind: str  # "spec" | "layers" | "expression" | "user layer" | "built-in layers"
    description: str
    report: GradcheckReport
    inputs: dict = field(default_factory=dict)  # expression values used
    drawn: list = field(default_factory=list)  # expression variables given no value
    kernels: str = ""  # which layer implementations were checked: "fast" | "reference" ("" for an expression)


def _normalize(req: GradcheckRequest) -> None:
    """`--layer F.py:C units=7`: the first NAME=VALUE lands in TARGET's place; move it back."""
    if req.layer is not None and req.target is not None and _is_assignment(req.target):
        name, _, value = req.target.partition("=")
        req.assignments = [(name.strip(), value.strip())] + list(req.assignments)
        req.target = None


def _is_assignment(token: str) -> bool:
    name, eq, _ = token.partition("=")
    return bool(eq) and name.strip().replace(".", "_").isidentifier() and not Path(token).exists()


def _validate(req: GradcheckRequest) -> None:
    if req.mode not in MODES:
        raise UsageError(f"unknown --mode '{req.mode}'; choose from: {', '.join(MODES)}")
    if req.k is not None and req.k < 1:
        raise UsageError(f"--k must be at least 1, got {req.k}")
    if req.h is not None and not (0 < req.h < 1):
        raise UsageError(f"--h must be in (0, 1), got {req.h}")
    if req.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {req.batch}")
    if req.layer and req.target:
        raise UsageError("give either a TARGET or --layer FILE.py:Class, not both")
    if req.shape is not None and req.layer is None:
        raise UsageError("--shape is the input shape for --layer; give --layer NAME or FILE.py:Class")
    if req.split and (req.layer is not None or req.layers):
        raise UsageError("--split checks a spec's full loss; it does not go with --layer or --layers")
    if req.target is None and req.layer is None and req.assignments:
        raise UsageError("NAME=VALUE tokens need a TARGET (a spec or an expression) or --layer")
    if req.layer is None and req.target is None and not req.layers:
        raise UsageError(
            "nothing to check: give a spec file, a built-in spec name, an expression, "
            "--layer FILE.py:Class or NAME (a built-in layer), or --layers alone for every built-in layer"
        )


def run_request(req: GradcheckRequest) -> TargetReport:
    """Resolve the target and check it."""
    _normalize(req)
    _validate(req)
    options = dict(mode=req.mode, k=req.k, h=req.h, sweep=req.sweep)
    if req.layer is not None:
        if _is_builtin_reference(req.layer):
            return _run_builtin_layer(req, options)
        return _run_user_layer(req, options)
    if req.target is None:
        return _run_builtin_layers(req, options)
    if _is_assignment(req.target):
        raise UsageError(f"'{req.target}' is a NAME=VALUE token: give the TARGET (a spec or an "
                         "expression) before it")
    if _is_spec(req.target):
        return _run_spec(req, options)
    return _run_expression(req, options)


def _seed(req: GradcheckRequest, default: int = 0) -> int:
    return default if req.seed is None else req.seed


def _run_user_layer(req: GradcheckRequest, options: dict) -> TargetReport:
    cls = _user_layer(req.layer, req.base_dir)
    name = req.layer.rpartition(":")[2]
    extra = _layer_options(name, cls, req.assignments)
    examples = _examples(cls)
    if req.shape is not None:
        examples = [(examples[0][0], _parse_shape(req.shape, cls, examples[0][1]))]
    objectives = _example_objectives(name, cls, _seed(req), extra, examples)
    return TargetReport("user layer", req.layer, run_gradcheck(objectives, seed=_seed(req), **options))


def _is_builtin_reference(reference: str) -> bool:
    """A bare name (dense, relu): not FILE.py:Class, package.module:Class or a path."""
    return ":" not in reference and "/" not in reference and not reference.endswith(".py")


def _run_builtin_layer(req: GradcheckRequest, options: dict) -> TargetReport:
    """A built-in layer on its first example, with NAME=VALUE options and an optional --shape."""
    from bpcli.errors import did_you_mean
    from bpcli.nn.layer import LAYERS

    import_all_layers()
    name = req.layer.strip()
    if name not in LAYERS:
        raise UsageError(
            f"--layer: unknown layer '{name}'{did_you_mean(name, LAYERS.names())}; give a built-in "
            f"layer ({', '.join(LAYERS.names())}) or path/to/file.py:ClassName"
        )
    cls = LAYERS.get(name)
    opts, shape = _examples(cls)[0]
    if req.shape is not None:
        shape = _parse_shape(req.shape, cls, shape)
    extra = _layer_options(name, cls, req.assignments)
    objectives = _example_objectives(name, cls, _seed(req), extra, [(opts, shape)])
    return TargetReport("built-in layer", objectives[0].label.removeprefix("layer "),
                        run_gradcheck(objectives, seed=_seed(req), **options), kernels="reference")


def _examples(cls) -> list:
    return list(getattr(cls, "examples", None) or (({}, (5,)),))


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


def _run_builtin_layers(req: GradcheckRequest, options: dict) -> TargetReport:
    from bpcli.nn.layer import LAYERS

    import_all_layers()
    objectives = [o for name, cls in LAYERS.items() for o in _example_objectives(name, cls, _seed(req), {})]
    return TargetReport("built-in layers", "every registered layer",
                        run_gradcheck(objectives, seed=_seed(req), **options), kernels="reference")


def _run_expression(req: GradcheckRequest, options: dict) -> TargetReport:
    from bpcli.expr.report import resolve_inputs
    from bpcli.gradcheck.targets import expression_objective

    graph = _parse_expression(req.target)
    if req.split or req.layers:
        raise UsageError("--split and --layers apply to specs, not to expressions")
    if not graph.variables:
        raise UsageError(f"'{req.target}' has no variables: there is no gradient to check")
    inputs, drawn = resolve_inputs(graph, req.assignments, _seed(req))
    report = run_gradcheck([expression_objective(graph, inputs)], seed=_seed(req), **options)
    return TargetReport("expression", req.target, report, inputs, drawn)


def import_all_layers() -> None:
    """Import every module of bpcli.nn.layers, so each registered layer is enrolled."""
    import importlib
    import pkgutil

    import bpcli.nn.layers

    for module in pkgutil.iter_modules(bpcli.nn.layers.__path__):
        importlib.import_module(f"bpcli.nn.layers.{module.name}")


def _is_spec(target: str) -> bool:
    from bpcli.spec import builtin_names

    path = Path(target)
    if path.is_file() or path.suffix in (".yaml", ".yml"):
        return True
    return target in builtin_names()


def _parse_expression(text: str):
    """The target as an expression; a bare name or a path-like target is a missing spec."""
    from bpcli.errors import ExprError, did_you_mean
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


def _run_spec(req: GradcheckRequest, options: dict) -> TargetReport:
    from bpcli.data import load_data
    from bpcli.spec import build_model, load_spec

    overrides = [f"{name}={value}" for name, value in req.assignments]
    spec = load_spec(req.target, overrides)
    seed = _seed(req, spec.seed)
    if req.layers:
        dataset_shape = _input_shape(spec)
        objectives = _spec_layer_objectives(spec, dataset_shape, seed)
        return TargetReport("layers", f"{req.target}: every layer alone",
                            run_gradcheck(objectives, seed=seed, **options))
    data = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed)
    if len(data.X_train) == 0:
        raise DataError("the spec's training data is empty")
    X, y = _sample_batch(data.X_train, data.y_train, req.batch, seed)
    model = build_model(spec, data.input_shape, data.n_classes, np.float64)
    objectives = model_objectives(model, X, y, seed=seed, split=req.split, label=str(req.target))
    what = "data loss and regularization separately" if req.split else "data loss + regularization"
    return TargetReport("spec", f"{req.target}: {what} on {len(X)} examples",
                        run_gradcheck(objectives, seed=seed, **options), kernels=spec.train.kernels)


def _sample_batch(X: np.ndarray, y: np.ndarray, size: int, seed: int):
    """`size` training examples drawn without replacement (seeded), in dataset order."""
    if len(X) <= size:
        return X, y
    rows = np.sort(np.random.default_rng([seed, 7]).choice(len(X), size=size, replace=False))
    return X[rows], y[rows]


def _input_shape(spec) -> tuple:
    from bpcli.data import load_data

    return load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed).input_shape


def _spec_layer_objectives(spec, input_shape: tuple, seed: int) -> list:
    from bpcli.spec import build_graph

    graph = build_graph(spec, input_shape, np.float64)
    objectives = []
    for node in spec.model:
        source = graph.nodes[[n.name for n in graph.nodes].index(node.name)]
        shapes = [graph.shapes[s] for s in source.inputs]
        shape = shapes[0] if source.layer.n_inputs == 1 else shapes
        layer = type(source.layer)(**node.options)  # a fresh one of the kernels the spec trains with
        objectives.append(layer_objective(layer, shape, seed=seed,
                                          label=f"layer {node.name} ({node.type})", prefix=f"{node.name}."))
    return objectives


def _example_objectives(name: str, cls, seed: int, extra: dict, examples=None) -> list:
    """One objective per (options, shape) of `examples` (default: the class's), options merged with `extra`."""
    objectives = []
    examples = _examples(cls) if examples is None else examples
    for i, (opts, shape) in enumerate(examples):
        merged = {**opts, **extra}
        try:
            layer = cls(**merged)
        except TypeError as err:
            raise UsageError(f"{name}: cannot make the layer with options {merged}: {err}") from None
        tag = f"{name}[{i}]" if len(examples) > 1 else name
        label = f"layer {tag} {merged} on {shape}" if merged else f"layer {tag} on {shape}"
        objectives.append(layer_objective(layer, shape, seed=seed, label=label, prefix=f"{tag}."))
    return objectives


def _user_layer(reference: str, base_dir: Path):
    from bpcli.spec.user_layers import UserLayerError, load_user_layer

    try:
        return load_user_layer(reference, base_dir)
    except UserLayerError as err:
        raise UsageError(f"--layer: {err}") from None


def _layer_options(layer_name: str, cls, assignments: list) -> dict:
    """NAME=VALUE tokens for --layer: constructor options (numbers, true/false, or text)."""
    import inspect

    from bpcli.errors import did_you_mean
    from bpcli.registry import options_of

    known = list(options_of(cls))
    open_ended = any(p.kind == p.VAR_KEYWORD
                     for p in inspect.signature(cls.__init__).parameters.values())
    options = {}
    for name, text in assignments:
        if not open_ended and name not in known:
            choices = f"; its options: {', '.join(known)}" if known else "; it takes no options"
            raise UsageError(f"--layer {layer_name}: no option '{name}'{did_you_mean(name, known)}{choices}")
        options[name] = _scalar(text)
    return options


def _scalar(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


__all__ = ["GradcheckRequest", "TargetReport", "run_request", "BpcliError"]
