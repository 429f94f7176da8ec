"""The gradient checks as plain functions: a layer, every built-in layer, a spec, a spec's
layers one by one, an expression, a forward/backward function pair, a loss function.

Each returns a `TargetReport` (what was checked + the GradcheckReport). Run options, the same
for all: mode ("auto" | "full" | "sparse" | "directional"), k, h, seed, sweep (the h sweep at
the worst entry), dtype ("float64", or "float32" where the code under test runs in it).
Guessing what a command-line TARGET is, and checking flags, is the command's job, not this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from bpcli.errors import DataError, UsageError
from bpcli.gradcheck.runner import GradcheckReport, run_gradcheck

DEFAULT_BATCH = 8


@dataclass
class TargetReport:
    """The report plus what was checked, for the renderers (and for code: `.passed` ...)."""

    kind: str  # "spec" | "layers" | "expression" | "user layer" | "built-in layers" | "functions" | "loss"
    description: str
    report: GradcheckReport
    inputs: dict = field(default_factory=dict)  # expression values used
    drawn: list = field(default_factory=list)  # expression variables given no value
    kernels: str = ""  # the built-in layers checked: "fast" twins | "reference" layers ("" where none)
    notes: list = field(default_factory=list)  # the spec's warnings (options an override dropped)

    @property
    def passed(self) -> bool:
        return self.report.passed

    @property
    def max_rel_error(self) -> float:
        return self.report.max_rel_error

    @property
    def checks(self) -> list:
        return self.report.checks

    def failures(self) -> list:
        return self.report.failures()

    def verdict(self) -> str:
        return self.report.verdict()


def _run(objectives: list, seed: int, mode: str = "auto", k: Optional[int] = None,
         h: Optional[float] = None, sweep: bool = False) -> GradcheckReport:
    return run_gradcheck(objectives, mode=mode, k=k, h=h, seed=seed, sweep=sweep)


def _dtype(dtype) -> np.dtype:
    from bpcli.gradcheck.compare import tolerance_for

    try:
        tolerance_for(dtype)
        return np.dtype(dtype)
    except (TypeError, ValueError):
        raise UsageError(f"dtype must be float64 or float32, got {dtype!r}") from None


def import_all_layers() -> None:
    """Import every module of bpcli.nn.layers, so each registered layer is enrolled."""
    import importlib
    import pkgutil

    import bpcli.nn.layers

    for module in pkgutil.iter_modules(bpcli.nn.layers.__path__):
        importlib.import_module(f"bpcli.nn.layers.{module.name}")


def examples_of(cls) -> list:
    """(options, per-example input shape) pairs a layer class is checked on."""
    return list(getattr(cls, "examples", None) or (({}, (5,)),))


def layer_objectives(name: str, cls, *, seed: int = 0, options: Optional[dict] = None,
                     examples: Optional[list] = None, dtype=np.float64) -> list:
    """One objective per (options, shape) of `examples` (default: the class's), options merged."""
    from bpcli.gradcheck.targets import layer_objective

    objectives = []
    examples = examples_of(cls) if examples is None else examples
    for i, (opts, shape) in enumerate(examples):
        merged = {**opts, **(options or {})}
        try:
            layer = cls(**merged)
        except TypeError as err:
            raise UsageError(f"{name}: cannot make the layer with options {merged}: {err}") from None
        tag = f"{name}[{i}]" if len(examples) > 1 else name
        label = f"layer {tag} {merged} on {shape}" if merged else f"layer {tag} on {shape}"
        objectives.append(layer_objective(layer, shape, seed=seed, label=label, prefix=f"{tag}.",
                                          dtype=dtype))
    return objectives


def check_layer(layer: Any, shape: Any = None, *, options: Optional[dict] = None, seed: int = 0,
                dtype="float64", **run) -> TargetReport:
    """A layer alone: an instance (on `shape`), a class or a built-in name (on each of its
    examples, or on `shape` with its first example's options), with constructor `options`."""
    from bpcli.nn.layer import LAYERS, Layer

    dtype = _dtype(dtype)
    if isinstance(layer, str):
        import_all_layers()
        cls, name, kind = LAYERS.get(layer), layer, "built-in layer"
    elif isinstance(layer, type) and issubclass(layer, Layer):
        cls, name, kind = layer, layer.__name__, "user layer"
    elif isinstance(layer, Layer):
        from bpcli.gradcheck.targets import layer_objective

        if shape is None:
            raise UsageError("check_layer(instance): give the per-example input shape, e.g. shape=(4,)")
        name = type(layer).__name__
        objective = layer_objective(layer, tuple(shape) if layer.n_inputs == 1 else shape, seed=seed,
                                    label=f"layer {name} on {shape}", prefix=f"{name}.", dtype=dtype)
        return TargetReport("user layer", name, _run([objective], seed, **run))
    else:
        raise UsageError(f"check_layer: expected a Layer, a Layer class or a layer name, got {type(layer).__name__}")
    examples = examples_of(cls)
    if kind == "built-in layer" or shape is not None:
        examples = examples[:1] if kind == "built-in layer" else examples
        if shape is not None:
            examples = [(examples[0][0], shape)]
    objectives = layer_objectives(name, cls, seed=seed, options=options, examples=examples, dtype=dtype)
    description = objectives[0].label.removeprefix("layer ") if kind == "built-in layer" else name
    return TargetReport(kind, description, _run(objectives, seed, **run),
                        kernels="reference" if kind == "built-in layer" else "")


def check_builtin_layers(*, seed: int = 0, dtype="float64", **run) -> TargetReport:
    """Every registered layer on each of its examples."""
    from bpcli.nn.layer import LAYERS

    import_all_layers()
    dtype = _dtype(dtype)
    objectives = [o for name, cls in LAYERS.items() for o in layer_objectives(name, cls, seed=seed, dtype=dtype)]
    return TargetReport("built-in layers", "every registered layer", _run(objectives, seed, **run), kernels="reference")


def check_expression(expression: str, values: Union[dict, list, None] = None, *, seed: int = 0,
                     dtype="float64", **run) -> TargetReport:
    """An expression of scalars; values as {name: number} (or [(name, text)]); the rest drawn."""
    from bpcli.expr import parse
    from bpcli.expr.report import resolve_inputs
    from bpcli.gradcheck.targets import expression_objective

    if _dtype(dtype) != np.float64:
        raise UsageError("expressions are checked in float64 (the trace engine computes in Python floats)")
    graph = parse(expression)
    if not graph.variables:
        raise UsageError(f"'{expression}' has no variables: there is no gradient to check")
    pairs = list(values.items()) if isinstance(values, dict) else list(values or [])
    inputs, drawn = resolve_inputs(graph, [(n, str(v)) for n, v in pairs], seed)
    report = _run([expression_objective(graph, inputs)], seed, **run)
    return TargetReport("expression", expression, report, inputs, drawn)


def check_spec(source: Union[str, Path], overrides: list = (), *, batch: int = DEFAULT_BATCH,
               split: bool = False, seed: Optional[int] = None, dtype="float64", **run) -> TargetReport:
    """A spec's loss on `batch` training examples (data + regularization; `split`: apart)."""
    from bpcli.data import load_data
    from bpcli.gradcheck.targets import model_objectives
    from bpcli.spec import build_model, load_spec

    dtype = _dtype(dtype)
    spec = load_spec(source, list(overrides))
    seed = spec.seed if seed is None else seed
    data = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed)
    if len(data.X_train) == 0:
        raise DataError("the spec's training data is empty")
    X, y = _sample_batch(data.X_train, data.y_train, batch, seed)
    model = build_model(spec, data.input_shape, data.n_classes, np.float64)
    objectives = model_objectives(model, X, y, seed=seed, split=split, label=str(source), dtype=dtype)
    what = "data loss and regularization separately" if split else "data loss + regularization"
    return TargetReport("spec", f"{source}: {what} on {len(X)} examples", _run(objectives, seed, **run),
                        kernels=spec.train.kernels, notes=list(spec.notes))


def check_spec_layers(source: Union[str, Path], overrides: list = (), *, seed: Optional[int] = None,
                      dtype="float64", **run) -> TargetReport:
    """Every layer of a spec alone, on the input shape it gets in the model."""
    from bpcli.data import load_data
    from bpcli.gradcheck.targets import layer_objective
    from bpcli.spec import build_graph, load_spec

    dtype = _dtype(dtype)
    spec = load_spec(source, list(overrides))
    seed = spec.seed if seed is None else seed
    input_shape = load_data(spec.data, base_dir=spec.base_dir, seed=spec.seed).input_shape
    graph = build_graph(spec, input_shape, np.float64)
    objectives = []
    for node in spec.model:
        placed = graph.nodes[[n.name for n in graph.nodes].index(node.name)]
        shapes = [graph.shapes[s] for s in placed.inputs]
        shape = shapes[0] if placed.layer.n_inputs == 1 else shapes
        layer = type(placed.layer)(**node.options)  # a fresh one of the kernels the spec trains with
        objectives.append(layer_objective(layer, shape, seed=seed, dtype=dtype,
                                          label=f"layer {node.name} ({node.type})", prefix=f"{node.name}."))
    return TargetReport("layers", f"{source}: every layer alone", _run(objectives, seed, **run),
                        kernels=spec.train.kernels, notes=list(spec.notes))


def _sample_batch(X: np.ndarray, y: np.ndarray, size: int, seed: int):
    """`size` training examples drawn without replacement (seeded), in dataset order."""
    if len(X) <= size:
        return X, y
    rows = np.sort(np.random.default_rng([seed, 7]).choice(len(X), size=size, replace=False))
    return X[rows], y[rows]


def check_functions(forward: Callable, backward: Callable, inputs: dict, *, seed: int = 0,
                    dtype="float64", **run) -> TargetReport:
    """A CS231n-style pair forward(...) -> (out, cache), backward(dout, cache) -> gradients."""
    from bpcli.gradcheck.functions import pair_objective

    objective = pair_objective(forward, backward, dict(inputs), seed=seed, dtype=_dtype(dtype))
    return TargetReport("functions", objective.label, _run([objective], seed, **run))


def check_loss(fn: Callable, inputs: dict, *, wrt: Optional[list] = None, seed: int = 0,
               dtype="float64", **run) -> TargetReport:
    """A loss function (or a model's bound `loss` method) returning (loss, grad) or (loss, {name: grad})."""
    from bpcli.gradcheck.functions import loss_objective

    owner = getattr(fn, "__self__", None)
    wrt = [wrt] if isinstance(wrt, str) else wrt
    objective = loss_objective(fn, dict(inputs), wrt=wrt, dtype=_dtype(dtype), owner=owner)
    return TargetReport("loss", objective.label, _run([objective], seed, **run))
