"""`bpcli.gradcheck(...)` and `bpcli.trace(...)`: the CLI's engines for a notebook or a script.

Like a command, this front end makes one library call and hands the result to the CLI's
renderer, but only when something displays it: a report object shows as the CLI's tables in
Jupyter (`_repr_html_`) and as plain text in a terminal (`repr`), and is usable in code
(`.passed`, `.max_rel_error`, `.checks`, `.hints`; trace: `.output`, `.gradients`).

    bpcli.trace("(x+y)*z", x=-2, y=5, z=-4).gradients      # {'x': -4.0, 'y': -4.0, 'z': 3.0}
    bpcli.trace("W2@max(0, W1@x)", W1=W1, W2=W2, x=[1, 0, 2])  # arrays, lists or "randn(4,3)"
    bpcli.gradcheck(affine_forward, affine_backward, x=(4, 5), w=(5, 3), b=(3,))
    bpcli.gradcheck(affine_forward, x=x, w=w, b=b)           # affine_backward found beside it
    bpcli.gradcheck(svm_loss_naive, W=W, X=X, y=y, reg=0.1, wrt="W")
    bpcli.gradcheck(net.loss, X=X, y=y)                      # (loss, grads) of net.params
    bpcli.gradcheck(MyLayer, shape=(4,)) ; bpcli.gradcheck("dense", units=3, shape=(6,))
    bpcli.gradcheck("x*sigmoid(x)", x=0.3)                   # an expression
    bpcli.gradcheck(spec="spiral") ; bpcli.gradcheck(spec="my.yaml", layers=True)

Arrays may be given as shapes (a tuple of ints: standard normal entries drawn with `seed`).
Run options (keywords, never function arguments): mode, k, h, seed, h_sweep, dtype; `inputs={}`
passes arguments whose names clash with them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Optional

RUN_OPTIONS = ("mode", "k", "h", "seed", "h_sweep", "dtype")


class _Shown:
    """A library result shown through the CLI's renderers (bpcli/render/notebook.py), only
    when something displays it: Jupyter's HTML, or plain text."""

    def __init__(self, kind: str, result: Any):
        self._kind, self._result = kind, result  # which renderer draws it, and what

    def text(self) -> str:
        """What the CLI prints when piped (plain text, 100 columns)."""
        from bpcli.render.notebook import as_text

        return as_text(self._kind, self._result)

    def _repr_html_(self) -> str:
        from bpcli.render.notebook import as_html

        return as_html(self._kind, self._result)

    def __repr__(self) -> str:
        return self.text().rstrip()


class GradcheckResult(_Shown):
    """A gradient check's report: the CLI's tables when displayed, data when used."""

    def __init__(self, result):
        super().__init__("gradcheck", result)
        self.result = result  # bpcli.gradcheck.check.TargetReport

    @property
    def passed(self) -> bool:
        return self.result.passed

    @property
    def max_rel_error(self) -> float:
        return self.result.max_rel_error

    @property
    def checks(self) -> list:
        """One entry per gradient: .name, .status, .max_rel_error, .worst_index, .analytic, .numeric, .hints."""
        return self.result.checks

    def __getitem__(self, name: str):
        """The check of one gradient by its name (`report['dw']`)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no gradient '{name}'; checked: {', '.join(c.name for c in self.checks)}")

    def failures(self) -> list:
        return self.result.failures()

    @property
    def hints(self) -> list:
        return [h for c in self.checks for h in c.hints]

    @property
    def verdict(self) -> str:
        return self.result.verdict()

    def to_dict(self) -> dict:
        """The CLI's JSON document."""
        from bpcli.render.gradcheck import gradcheck_document

        return gradcheck_document(self.result)


class TraceResult(_Shown):
    """A traced expression: the forward value, every gradient, the backward steps."""

    def __init__(self, report):
        self.tensor = getattr(report, "tensor", False)
        super().__init__("tensor_trace" if self.tensor else "trace", report)
        self.report = report  # bpcli.expr.report.TraceReport, or a TensorTraceReport for tensors

    @property
    def output(self):
        """f: a float, or an array for tensors."""
        return self.report.output if self.tensor else self.report.trace.output

    @property
    def gradients(self) -> dict:
        return dict(self.report.gradients if self.tensor else self.report.trace.gradients)

    @property
    def inputs(self) -> dict:
        return dict(self.report.inputs)

    @property
    def checks(self) -> list:
        """Backprop's gradient beside a central difference, per variable (.name, .analytic, .numeric, .status)."""
        return list(self.report.checks or [])

    @property
    def warnings(self) -> list:
        return list(self.report.warnings)


def trace(expression: str, *, seed: int = 0, expand: bool = False, **values) -> TraceResult:
    """Trace an expression at the given values (the rest drawn with `seed`), as `bpcli trace` does."""
    from bpcli.expr.report import trace_expression

    pairs = [(n, v if not isinstance(v, (int, float)) else str(v)) for n, v in values.items()]
    return TraceResult(trace_expression(expression, pairs, seed=seed, expand=expand))


def gradcheck(target: Any = None, backward: Optional[Callable] = None, *, spec: Any = None,
              layers: bool = False, split: bool = False, shape: Any = None, wrt: Any = None,
              inputs: Optional[dict] = None, **kwargs) -> GradcheckResult:
    """Check the analytic gradients of `target` against central differences (see the module doc)."""
    from bpcli.gradcheck import check
    from bpcli.nn.layer import Layer

    run = {k: kwargs.pop(k) for k in RUN_OPTIONS if k in kwargs}
    if "h_sweep" in run:
        run["sweep"] = run.pop("h_sweep")
    seed = run.pop("seed", 0)
    given = {**kwargs, **(inputs or {})}
    if spec is not None or isinstance(target, Path):
        source = spec if spec is not None else target
        overrides = [f"{k}={v}" for k, v in given.items()]
        if layers:
            return GradcheckResult(check.check_spec_layers(source, overrides, seed=seed if "seed" in kwargs else None, **run))
        return GradcheckResult(check.check_spec(source, overrides, split=split, **run))
    if target is None and layers:
        return GradcheckResult(check.check_builtin_layers(seed=seed, **run))
    if isinstance(target, Layer) or (isinstance(target, type) and issubclass(target, Layer)):
        return GradcheckResult(check.check_layer(target, shape, options=given, seed=seed, **run))
    if isinstance(target, str):
        from bpcli.nn.layer import LAYERS

        check.import_all_layers()
        if target in LAYERS:
            return GradcheckResult(check.check_layer(target, shape, options=given, seed=seed, **run))
        return GradcheckResult(check.check_expression(target, given, seed=seed, **run))
    if isinstance(target, tuple) and len(target) == 2 and all(callable(t) for t in target):
        target, backward = target
    if callable(target):
        values = _arrays_from_shapes(given, seed)
        if backward is None:
            backward = _backward_beside(target)
        if backward is not None:
            return GradcheckResult(check.check_functions(target, backward, values, seed=seed, **run))
        return GradcheckResult(check.check_loss(target, values, wrt=wrt, seed=seed, **run))
    raise TypeError("bpcli.gradcheck: give a Layer (instance or class), a layer name, forward and "
                    "backward functions, a loss function or method, an expression, or spec=...")


def _arrays_from_shapes(values: dict, seed: int) -> dict:
    """Tuples of ints are shapes: standard normal arrays drawn with the seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return {n: (rng.standard_normal(v) if isinstance(v, tuple) and v and all(isinstance(d, int) for d in v) else v)
            for n, v in values.items()}


def _backward_beside(forward: Callable) -> Optional[Callable]:
    """affine_forward -> affine_backward from the same module, when the name says forward."""
    name = getattr(forward, "__name__", "")
    if "forward" not in name:
        return None
    module = sys.modules.get(getattr(forward, "__module__", ""), None)
    found = getattr(module, name.replace("forward", "backward"), None) if module else None
    if found is None:
        globals_ = getattr(forward, "__globals__", {})
        found = globals_.get(name.replace("forward", "backward"))
    if not callable(found):
        from bpcli.errors import UsageError

        raise UsageError(f"{name}: no {name.replace('forward', 'backward')} beside it; pass it: "
                         f"bpcli.gradcheck({name}, backward_fn, ...)")
    return found


__all__ = ["gradcheck", "trace", "GradcheckResult", "TraceResult"]
