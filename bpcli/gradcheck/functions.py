"""Objectives for CS231n-style code: forward/backward function pairs and loss functions.

A pair `forward(x, w, ..., param) -> (out, cache)`, `backward(dout, cache) -> (dx, dw, ...)` is
checked as L = Σ out ⊙ dout for a fixed random dout; its gradients are matched, in order, to
the forward's floating-point array arguments and shown as `d<name>`. A loss function
`f(...) -> (loss, grad)` or `(loss, {name: grad})` (a model's `loss` method too) is checked
against its own loss. Arrays are the checked parameters; every other argument (a `bn_param`
dict the forward updates, an integer label array) is passed as a fresh deep copy to every call,
so what one evaluation writes into it cannot change the next. The legacy global NumPy random
state is set to the same state before every call (dropout without a seed keeps its mask).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable, Optional

import numpy as np

from bpcli.errors import UsageError, did_you_mean
from bpcli.gradcheck.objective import Objective

STABLE = dict(rtol=1e-12, atol=0.0)  # two identical backward calls must agree to round-off


def _is_checked(value: Any) -> bool:
    return isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)


def bind_arguments(fn: Callable, values: dict, what: str) -> dict:
    """values ordered like fn's parameters; unknown names and missing required ones are errors."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return dict(values)
    named = [n for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    open_ended = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    for name in values:
        if name not in named and not open_ended:
            raise UsageError(f"{what} has no argument '{name}'{did_you_mean(name, named)}; "
                             f"its arguments: {', '.join(named) or 'none'}")
    missing = [n for n in named if n not in values and parameters[n].default is inspect.Parameter.empty]
    if missing:
        raise UsageError(f"{what} needs {', '.join(missing)}: give "
                         f"{' '.join(f'{n}=...' for n in missing)} (an array as a shape such as "
                         "4,3 or a value such as randn(4,3); other arguments in YAML, e.g. "
                         "'{mode: train}')")
    ordered = {n: values[n] for n in named if n in values}
    ordered.update({n: v for n, v in values.items() if n not in ordered})
    return ordered


def _guarded(fn: Callable) -> Callable:
    """fn, with any exception it raises (not a BpcliError) turned into an exit-2 message that
    names the function, the exception and the line of the user's file where it happened."""
    import functools
    import traceback

    from bpcli.errors import BpcliError

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BpcliError:
            raise
        except Exception as err:
            frames = traceback.extract_tb(err.__traceback__)[1:]
            where = ""
            if frames:
                last = frames[-1]
                where = f" [{last.filename.rsplit('/', 1)[-1]}:{last.lineno}: {(last.line or '').strip()}]"
            name = getattr(fn, "__qualname__", getattr(fn, "__name__", "the function"))
            raise UsageError(f"{name} raised {type(err).__name__}: {err}{where}") from err

    return call


class _Calls:
    """Calls fn with the live checked arrays and fresh copies of everything else."""

    def __init__(self, fn: Callable, arguments: dict, checked: dict):
        self.fn = _guarded(fn)
        self.arguments = arguments
        self.checked = checked  # name -> live array (perturbed in place by the differences)
        self.random_state = np.random.get_state()
        self.changed: list[str] = []  # arguments a call wrote into (seen on the first call)
        self._first = True

    def __call__(self):
        fresh = {n: (self.checked[n] if n in self.checked else copy.deepcopy(v))
                 for n, v in self.arguments.items()}
        np.random.set_state(self.random_state)
        result = self.fn(**fresh)
        if self._first:
            self._first = False
            self.changed = [n for n, v in self.arguments.items()
                            if n not in self.checked and not _equal(v, fresh[n])]
        return result


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
            and bool(np.array_equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False


def _copy_note(calls: _Calls) -> list[str]:
    """What the report says about arguments passed as copies."""
    mutable = [n for n, v in calls.arguments.items()
               if n not in calls.checked and isinstance(v, (dict, list, np.ndarray))]
    if not mutable:
        return []
    changed = [n for n in mutable if n in calls.changed]
    said = f"copied afresh for every evaluation: {', '.join(mutable)}"
    if changed:
        said += (f" ({', '.join(changed)} {'is' if len(changed) == 1 else 'are'} changed by the call, "
                 "e.g. batchnorm's running averages: without the copy each evaluation would see "
                 "the previous one's values and the numeric gradient would be wrong)")
    return [said]


def _arrays(arguments: dict, dtype) -> dict:
    """The floating-point array arguments, as owned copies in `dtype`."""
    return {n: np.array(v, dtype=dtype, copy=True) for n, v in arguments.items() if _is_checked(v)}


def _batch_of(checked: dict) -> Optional[int]:
    first = next(iter(checked.values()), None)
    return int(first.shape[0]) if first is not None and first.ndim >= 2 else None


def _first_rows(arguments: dict, checked_first: str, n: int) -> dict:
    """The arguments with the first checked array, and arrays sharing its batch axis, cut to n rows."""
    batch = arguments[checked_first].shape[0]
    return {k: (v[:n] if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == batch
                and (k == checked_first or not _is_checked(v)) else v)
            for k, v in arguments.items()}


def pair_objective(forward: Callable, backward: Callable, arguments: dict, *, seed: int = 0,
                   dtype=np.float64, label: str = "", dout: Optional[np.ndarray] = None) -> Objective:
    """L = Σ forward(...)[0] ⊙ dout; gradients from backward(dout, cache), in argument order."""
    what = getattr(forward, "__name__", "forward")
    arguments = bind_arguments(forward, arguments, what)
    checked = _arrays(arguments, dtype)
    if not checked:
        raise UsageError(f"{what}: no floating-point array argument to check; give one as a shape "
                         "(x=4,5) or a value (x=randn(4,5))")
    calls = _Calls(forward, arguments, checked)
    first = calls()
    if not (isinstance(first, tuple) and len(first) == 2):
        raise UsageError(f"{what} must return (out, cache), got {type(first).__name__}")
    out = np.asarray(first[0])
    if dout is None:  # its own stream: inputs drawn with `seed` must not equal dout
        dout = np.random.default_rng((seed, 1)).standard_normal(out.shape)
    dout = np.asarray(dout).astype(dtype)
    dout64 = dout.astype(np.float64)
    names = list(checked)
    shown = {n: f"d{n}" for n in names}
    notes: list = []
    problems: dict = {}
    back_name = getattr(backward, "__name__", "backward")
    backward = _guarded(backward)

    def output() -> np.ndarray:
        return np.asarray(calls()[0])

    def value() -> float:
        return float(np.sum(output().astype(np.float64) * dout64))

    def run_backward(upstream: np.ndarray, cache) -> tuple:
        result = backward(upstream, cache)
        parts = result if isinstance(result, tuple) else (result,)
        if len(parts) != len(names):
            raise UsageError(f"{back_name} returned {len(parts)} gradient{'s' if len(parts) != 1 else ''} "
                             f"for the {len(names)} array argument{'s' if len(names) != 1 else ''} of "
                             f"{what} ({', '.join(names)}); return them in that order")
        return parts

    def gradients_for(upstream: np.ndarray, check: bool = True) -> dict:
        _, cache = calls()
        given = upstream.copy()
        parts = run_backward(given, cache)
        grads = {shown[n]: np.array(g, dtype=np.float64, copy=True)
                 for n, g in zip(names, parts) if g is not None}
        if not check:
            return grads
        if not np.array_equal(given, upstream):
            note = f"{back_name} modified dout in place (it must treat dout as read-only)"
            if note not in notes:
                notes.append(note)
        again = run_backward(upstream.copy(), cache)  # the same cache, the same dout
        for n, g in zip(names, again):
            first_g = grads.get(shown[n])
            if first_g is not None and g is not None and not _stable(first_g, g):
                problems.setdefault(shown[n], _unstable_problem(back_name))
        return grads

    batch = _batch_of(checked)

    def rebatch(n: int) -> Objective:
        cut = _first_rows({**arguments, **checked}, names[0], n)
        return pair_objective(forward, backward, cut, seed=seed, dtype=dtype, label=label)

    reference = None
    if np.dtype(dtype) != np.float64:
        twin = pair_objective(forward, backward, {**arguments, **{n: a.astype(np.float64) for n, a in checked.items()}},
                              seed=seed, label=label, dout=dout64)

        def reference() -> dict:
            for n in names:
                twin.params[shown[n]][...] = checked[n]
            return twin.gradients()

    objective = Objective(
        label=label or f"{what} / {back_name}",
        params={shown[n]: checked[n] for n in names},
        value=value,
        gradients=lambda: gradients_for(dout),
        rescaled=lambda s: gradients_for(s * dout, check=False),
        batch_size=batch,
        notes=notes,
        problems=problems,
        dtype=np.dtype(dtype),
        info=_copy_note(calls),
        output=output,
        upstream=lambda d: gradients_for(np.asarray(d, dtype=dtype), check=False),
        rebatch=rebatch if batch and batch > 1 else None,
        reference=reference,
    )
    return objective


def _stable(first: np.ndarray, second: Any) -> bool:
    second = np.asarray(second, dtype=np.float64)
    return first.shape == second.shape and bool(np.allclose(first, second, **STABLE))


def _unstable_problem(fn_name: str) -> str:
    return (f"two identical calls of {fn_name} (the same dout, the same cache) gave different "
            "gradients: it changes its cache or its inputs in place (x *= ..., a += on a cached "
            "array), or draws new random numbers")


def loss_objective(fn: Callable, arguments: dict, *, wrt: Optional[list] = None, dtype=np.float64,
                   label: str = "", owner: Any = None) -> Objective:
    """L = fn(...)[0] against fn(...)[1]: one gradient (of `wrt`, default the first array
    argument) or a dict {name: gradient}. With `owner` (a model whose `loss` method fn is), the
    dict's names are keys of owner.params, which are checked in place."""
    what = getattr(fn, "__qualname__", getattr(fn, "__name__", "loss"))
    arguments = bind_arguments(fn, arguments, what)
    own = owner is not None and isinstance(getattr(owner, "params", None), dict)
    checked = _arrays(arguments, dtype) if not own else {}
    if own:
        for name, value in list(owner.params.items()):
            if _is_checked(np.asarray(value)):
                owner.params[name] = np.array(value, dtype=dtype, copy=True)
        checked = {n: v for n, v in owner.params.items() if _is_checked(v)}
    calls = _Calls(fn, {k: v for k, v in arguments.items()},
                   {} if own else checked)
    first = calls()
    if not (isinstance(first, tuple) and len(first) == 2):
        raise UsageError(f"{what} must return (loss, grad) or (loss, {{name: grad}}), "
                         f"got {type(first).__name__}")
    loss, grad = first
    if np.ndim(loss) != 0:
        raise UsageError(f"{what}: the loss must be a number, got an array of shape {np.shape(loss)}")
    if isinstance(grad, dict):
        names = list(grad) if wrt is None else list(wrt)
        unknown = [n for n in names if n not in checked]
        if unknown:
            raise UsageError(f"{what}: no array '{unknown[0]}' to check{did_you_mean(unknown[0], checked)}; "
                             f"arrays: {', '.join(checked) or 'none'}")
        shown = {n: n for n in names}
    else:
        if wrt is not None and len(wrt) != 1:
            raise UsageError(f"{what} returns one gradient: give one --wrt name, not {len(wrt)}")
        name = wrt[0] if wrt else next(iter(checked), None)
        if name not in checked:
            raise UsageError(f"{what}: --wrt '{name}' is not a floating-point array argument"
                             f"{did_you_mean(str(name), checked)}; arrays: {', '.join(checked) or 'none'}")
        names, shown = [name], {name: f"d{name}"}
    problems: dict = {}

    def value() -> float:
        return float(calls()[0])

    def gradients() -> dict:
        grads = _grads(calls()[1])
        again = _grads(calls()[1])
        for n, g in grads.items():
            if n in again and not _stable(g, again[n]):
                problems.setdefault(n, _unstable_problem(what))
        return grads

    def _grads(result) -> dict:
        if isinstance(result, dict):
            return {shown[n]: np.array(result[n], dtype=np.float64, copy=True)
                    for n in names if result.get(n) is not None}
        return {shown[names[0]]: np.array(result, dtype=np.float64, copy=True)}

    batch = None
    for k, v in arguments.items():
        if isinstance(v, np.ndarray) and v.ndim >= 1 and not _is_checked(v):
            batch = int(v.shape[0])  # labels y: one per example
            break

    def rebatch(n: int) -> Objective:
        """The first n examples: every array argument whose first axis has the labels' length."""
        cut = {k: (v[:n] if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == batch else v)
               for k, v in {**arguments, **({} if own else checked)}.items()}
        return loss_objective(fn, cut, wrt=wrt, dtype=dtype, label=label)
    reference = None
    if np.dtype(dtype) != np.float64 and not own:
        twin = loss_objective(fn, {**arguments, **{n: a.astype(np.float64) for n, a in checked.items()}},
                              wrt=wrt, label=label)

        def reference() -> dict:
            for n in names:
                twin.params[shown[n]][...] = checked[n]
            return twin.gradients()

    return Objective(
        label=label or what, params={shown[n]: checked[n] for n in names}, value=value,
        gradients=gradients, batch_size=batch, problems=problems, dtype=np.dtype(dtype),
        info=_copy_note(calls), reference=reference,
        rebatch=rebatch if batch and batch > 1 and not own else None,
    )
