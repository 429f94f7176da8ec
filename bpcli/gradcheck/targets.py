"""Objectives to check: one layer alone (built-in or a user's), an expression, a model's loss."""

from __future__ import annotations

from typing import Any

import numpy as np

from bpcli.gradcheck.objective import Objective

DEFAULT_LAYER_BATCH = 4


def _input_names(n: int) -> list[str]:
    return ["x"] if n == 1 else [f"x{i}" for i in range(n)]


def layer_objective(
    layer, input_shape: Any, *, seed: int = 0, batch: int = DEFAULT_LAYER_BATCH, label: str = "",
    prefix: str = "", dtype=np.float64,
) -> Objective:
    """L = Σ out ⊙ dout for one layer with random inputs and a random upstream gradient dout.

    The inputs and every parameter are checked; dL/dx = backward(dout) and dL/dθ = grads.
    `input_shape` is per example (a list of shapes for multi-input layers). In float32 the
    layer runs in float32 and a float64 copy of it gives the reference analytic gradients.
    """
    import copy

    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    multi = layer.n_inputs != 1
    shapes = list(input_shape) if multi else [input_shape]
    layer.build(input_shape if multi else tuple(input_shape), rng, np.float64)
    for name, p in list(layer.params.items()):
        layer.params[name] = np.asarray(p, dtype=np.float64)
    layer.training = True
    layer.needs_input_grad = True
    xs = {n: rng.standard_normal((batch, *s)) for n, s in zip(_input_names(len(shapes)), shapes)}
    twin = copy.deepcopy(layer) if dtype != np.float64 else None
    if twin is not None:
        xs = {n: x.astype(dtype) for n, x in xs.items()}
        for name, p in list(layer.params.items()):
            layer.params[name] = p.astype(dtype)
    params = {**xs, **layer.params}
    noise_seed = seed + 1

    def forward():
        layer.rng = np.random.default_rng(noise_seed)  # the same dropout mask every time
        return layer.forward(*[params[n] for n in xs])

    dout = rng.standard_normal(np.shape(forward())).astype(dtype)
    dout64 = dout.astype(np.float64)
    notes: list = []  # problems seen while computing gradients (shared with the Objective)
    problems: dict = {}  # parameter -> problem with its gradient (shared with the Objective)

    def param_grads() -> dict:
        return {n: np.array(layer.grads[n], dtype=np.float64, copy=True)
                for n in layer.params if layer.grads.get(n) is not None}

    def gradients_for(upstream: np.ndarray) -> dict:
        forward()
        given = upstream.copy()
        dx = layer.backward(given)
        if not np.array_equal(given, upstream):
            note = "backward modified dout in place (it must treat dout as read-only)"
            if note not in notes:
                notes.append(note)
        grads = param_grads()
        layer.backward(upstream.copy())  # backward is idempotent: a second run changes nothing
        for n, again in param_grads().items():
            if n in grads and not _same(grads[n], again):
                problems.setdefault(n, _accumulation_problem(n, grads[n], again))
        dxs = dx if multi else (dx,)
        for n, d in zip(xs, dxs if dxs is not None else ()):
            if d is not None:
                grads[n] = np.array(d, dtype=np.float64, copy=True)
        return grads

    def kinks() -> dict:
        state = layer.kink_state()
        return {} if state is None else {prefix.rstrip(".") or "layer": np.asarray(state)}

    def reference() -> dict:
        for n, p in twin.params.items():
            p[...] = params[n]
        twin.rng = np.random.default_rng(noise_seed)
        twin.forward(*[params[n].astype(np.float64) for n in xs])
        dx = twin.backward(dout64.copy())
        grads = {n: np.array(twin.grads[n], dtype=np.float64) for n in twin.params if twin.grads.get(n) is not None}
        for n, d in zip(xs, (dx if multi else (dx,)) if dx is not None else ()):
            if d is not None:
                grads[n] = np.asarray(d, dtype=np.float64)
        return grads

    return Objective(
        label=label or f"layer {getattr(layer, 'name', '') or type(layer).__name__}",
        params=params,
        value=lambda: float(np.sum(forward().astype(np.float64) * dout64)),
        gradients=lambda: gradients_for(dout),
        kink_states=kinks,
        rescaled=lambda s: gradients_for(s * dout),
        batch_size=batch,
        prefix=prefix,
        notes=notes,
        problems=problems,
        dtype=dtype,
        output=lambda: np.asarray(forward(), dtype=np.float64),
        upstream=lambda d: gradients_for(np.asarray(d, dtype=dtype)),
        rebatch=(lambda n: layer_objective(copy.deepcopy(layer), input_shape, seed=seed, batch=n,
                                           label=label, prefix=prefix, dtype=dtype)) if batch > 1 else None,
        reference=reference if twin is not None else None,
    )


def _same(first: np.ndarray, second: np.ndarray) -> bool:
    return first.shape == second.shape and np.allclose(first, second, rtol=1e-12, atol=0.0)


def _accumulation_problem(name: str, first: np.ndarray, second: np.ndarray) -> str:
    """What running backward twice did to grads[name]."""
    doubled = first.shape == second.shape and np.allclose(second, 2 * first, rtol=1e-9, atol=0.0)
    what = "doubled it" if doubled else "changed it"
    return (f"backward accumulates into grads instead of assigning them: running backward twice "
            f"{what} (write grads['{name}'] = ..., not grads['{name}'] += ...; backward must be "
            "idempotent)")


def expression_objective(graph, values: dict) -> Objective:
    """f(variables) of a parsed expression; its gradients come from the trace engine."""
    params = {name: np.array(float(values[name]), dtype=np.float64) for name in graph.variables}
    last: dict = {}

    def current() -> dict:
        last.clear()
        last.update({n: float(a) for n, a in params.items()})
        return dict(last)

    def kinks() -> dict:
        sides = graph.kink_state(last) if last else ()
        return {"gates": np.array([str(s) for s in sides])} if sides else {}

    def gradients() -> dict:
        _, grads = graph.gradients(current())
        return {n: np.array(float(grads.get(n, 0.0))) for n in params}

    return Objective(
        label=f"expression {graph.text}", params=params,
        value=lambda: float(graph.evaluate(current())), gradients=gradients, kink_states=kinks,
    )


def _copies(grads: dict) -> dict:
    return {k: np.array(v, dtype=np.float64, copy=True) for k, v in grads.items()}


def model_objectives(model, X: np.ndarray, y: np.ndarray, *, seed: int = 0, split: bool = False,
                     label: str = "model", dtype=np.float64) -> list[Objective]:
    """The model's loss on (X, y) against every parameter and the input, in float64.

    Default: one objective, total = data loss + regularization; its parameter gradients come
    from `Model.loss_and_grads` (what training uses) and dL/dinput from `LayerGraph.backward`.
    `split`: the data loss and the regularization as two objectives (the lecture's advice).
    Dropout masks are held fixed by `graph.reseed(seed)` before every forward pass.
    """
    import copy

    dtype = np.dtype(dtype)
    graph = model.graph
    graph.to(np.float64)
    twin = copy.deepcopy(model) if dtype != np.float64 else None
    graph.to(dtype)
    X = np.array(X, dtype=dtype, copy=True)
    params = {"input": X, **graph.params()}
    weights = {k: params[k] for k in graph.weight_names()}
    loss_fn = model.loss_fn
    last: dict = {}

    def regularization() -> tuple[float, dict]:
        if model.reg_strength == 0.0 or not weights:
            return 0.0, {}
        reg, grads = model.regularizer(weights, model.reg_strength)
        return float(reg), grads

    def data_loss() -> float:
        graph.reseed(seed)
        scores = graph.forward(X, training=True)
        last["loss_kinks"] = loss_fn.kink_state(scores, y) if getattr(loss_fn, "has_kinks", False) else None
        return float(loss_fn.value(scores, y))

    def data_gradients() -> dict:
        graph.reseed(seed)
        scores = graph.forward(X, training=True)
        _, dscores = loss_fn.loss(scores, y)
        dx = graph.backward(dscores, input_grad=True)
        grads = _copies(graph.grads())
        if dx is not None:
            grads["input"] = np.array(dx, dtype=np.float64, copy=True)
        return grads

    def total_gradients() -> dict:
        data = data_gradients()  # for dL/dinput (loss_and_grads skips the data's gradient)
        graph.reseed(seed)
        model.loss_and_grads(X, y)
        grads = _copies(graph.grads())
        if "input" in data:
            grads["input"] = data["input"]
        return grads

    def kinks() -> dict:
        states = {k: np.asarray(v) for k, v in graph.kink_states().items()}
        if last.get("loss_kinks") is not None:
            states["loss"] = np.asarray(last["loss_kinks"])
        return states

    def reference() -> dict:
        """The same model in float64 at the same (float32) point: total-loss gradients."""
        twin_params = twin.graph.params()
        for k, v in twin_params.items():
            v[...] = params[k]
        X64 = X.astype(np.float64)
        twin.graph.reseed(seed)
        scores = twin.graph.forward(X64, training=True)
        _, dscores = twin.loss_fn.loss(scores, y)
        dx = twin.graph.backward(dscores, input_grad=True)
        twin.graph.reseed(seed)
        twin.loss_and_grads(X64, y)
        grads = _copies(twin.graph.grads())
        if dx is not None:
            grads["input"] = np.array(dx, dtype=np.float64)
        return grads

    batch = int(X.shape[0])
    if not split:
        return [Objective(f"{label}: data loss + regularization", params,
                          value=lambda: data_loss() + regularization()[0],
                          gradients=total_gradients, kink_states=kinks, batch_size=batch,
                          dtype=dtype, reference=reference if twin is not None else None)]
    if twin is not None:
        from bpcli.errors import UsageError

        raise UsageError("--split runs in float64 only; leave out --dtype float32 or --split")
    objectives = [Objective(f"{label}: data loss", params, value=data_loss,
                            gradients=data_gradients, kink_states=kinks, batch_size=batch,
                            prefix="data:")]
    if model.reg_strength != 0.0 and weights:
        objectives.append(Objective(
            f"{label}: regularization", dict(weights), value=lambda: regularization()[0],
            gradients=lambda: _copies(regularization()[1]), prefix="reg:",
        ))
    return objectives
