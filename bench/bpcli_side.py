"""bpcli's side of the step benchmark: the case built from bpcli's own layer classes.

Every import of bpcli happens here, inside functions, so that a module somebody has not
landed yet turns into `NotAvailable` (one clear row in the table) instead of a crash.
"""

from __future__ import annotations

import inspect
from typing import List, Sequence, Tuple

import numpy as np

# op kind -> registry names to try, in order
LAYER_NAMES = {
    "dense": ("dense", "affine", "linear"),
    "relu": ("relu",),
    "conv": ("conv2d", "conv"),
    "maxpool": ("maxpool2d", "max_pool2d", "maxpool"),
    "flatten": ("flatten",),
}
LOSS_NAMES = ("softmax", "softmax_cross_entropy", "cross_entropy", "softmax_ce")


class NotAvailable(Exception):
    """A piece of bpcli this side needs does not exist yet (or not in the expected shape)."""


def _first_present(registry, names: Sequence[str], what: str):
    for name in names:
        if name in registry:
            return registry.get(name)
    raise NotAvailable(f"no {what} named {' / '.join(names)} in the registry yet")


def _pick_option(cls, candidates: Sequence[str], value, opts: dict, required: bool = True) -> None:
    params = inspect.signature(cls.__init__).parameters
    for name in candidates:
        if name in params:
            opts[name] = value
            return
    if required:
        raise NotAvailable(f"{cls.__name__} has none of the options {', '.join(candidates)}")


def layer_for(op, LAYERS, implementation=lambda cls: cls):
    """An unbuilt bpcli layer for one op of a case (`implementation` maps a registered class to the one to use)."""
    cls = _first_present(LAYERS, LAYER_NAMES[op.kind], f"{op.kind} layer")
    opts: dict = {}
    if op.kind == "dense":
        _pick_option(cls, ("units", "out_features", "size"), op.size, opts)
    elif op.kind == "conv":
        _pick_option(cls, ("filters", "out_channels", "channels", "num_filters"), op.size, opts)
        _pick_option(cls, ("kernel_size", "kernel", "size"), op.kernel, opts)
        _pick_option(cls, ("padding", "pad"), op.pad, opts)
        _pick_option(cls, ("stride",), 1, opts, required=False)
    elif op.kind == "maxpool":
        _pick_option(cls, ("pool_size", "size", "kernel_size", "pool"), 2, opts)
        _pick_option(cls, ("stride",), 2, opts, required=False)
    return implementation(cls)(**opts)


def _copy_weight(dst: np.ndarray, src: np.ndarray, where: str) -> None:
    if dst.shape == src.shape:
        np.copyto(dst, src)
    elif src.ndim == 2 and dst.shape == src.T.shape:
        np.copyto(dst, src.T)
    else:
        raise NotAvailable(f"{where}: parameter shape {dst.shape} does not fit {src.shape}")


def _weight_and_bias(layer) -> Tuple[np.ndarray, np.ndarray]:
    params = layer.params
    W = params.get("W", params.get("w", params.get("weight")))
    b = params.get("b", params.get("bias"))
    if W is None or b is None:
        raise NotAvailable(f"{type(layer).__name__} params are {sorted(params)}, expected W and b")
    return W, b


class BpcliStep:
    """One training step with bpcli: the TrainStep `bpcli train` runs (momentum, fused into backward)."""

    def __init__(self, case, weights: List[Tuple[np.ndarray, np.ndarray]], X, y, *, lr: float, momentum: float):
        try:
            from bpcli.fast import fast_class, wire
            from bpcli.nn.graph import LayerGraph, Node
            from bpcli.nn.layer import LAYERS
            from bpcli.nn.model import Model
            from bpcli.nn.losses import LOSSES
            from bpcli.nn.optim import OPTIMIZERS
        except ImportError as err:
            raise NotAvailable(f"not available yet ({err.name or err})") from None
        try:
            from bpcli.nn.regularization import REGULARIZERS
        except ImportError:
            REGULARIZERS = None
        self._import_layer_modules()

        nodes, prev = [], "input"
        for i, op in enumerate(case.ops):
            name = f"{op.kind}{i}"
            nodes.append(Node(name=name, layer=layer_for(op, LAYERS, fast_class), inputs=[prev]))
            prev = name
        self.graph = LayerGraph(nodes, tuple(case.input_shape), dtype=np.float32, seed=0)
        wire(self.graph)  # in-place relu, as build_graph does
        weighted = [n for n, op in zip(self.graph_nodes_in_order(nodes), case.ops) if op.kind in ("dense", "conv")]
        for node, (W, b) in zip(weighted, weights):
            dst_W, dst_b = _weight_and_bias(node.layer)
            _copy_weight(dst_W, W, f"{node.name}.W")
            _copy_weight(dst_b, b.reshape(dst_b.shape), f"{node.name}.b")

        loss_cls = _first_present(LOSSES, LOSS_NAMES, "softmax cross-entropy loss")
        loss = loss_cls() if inspect.isclass(loss_cls) else loss_cls
        kwargs = {"graph": self.graph, "loss": loss, "reg_strength": 0.0}
        if REGULARIZERS is not None and "none" in REGULARIZERS:
            kwargs["regularizer"] = REGULARIZERS.get("none")
        accepted = inspect.signature(Model).parameters
        self.model = Model(**{k: v for k, v in kwargs.items() if k in accepted})
        opt_cls = OPTIMIZERS.get("momentum")
        self.optimizer = opt_cls(self.graph.params(), lr=lr, momentum=momentum)
        from bpcli.fast.train_step import TrainStep
        from bpcli.host import openblas

        # the step `bpcli train` takes: a convnet's slices on as many threads as BLAS has here
        self.train_step = TrainStep(self.model, self.optimizer, workers=openblas.threads())
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.y = y

    @staticmethod
    def _import_layer_modules() -> None:
        """Layer families register on import; import every module of bpcli.nn.layers."""
        import importlib
        import pkgutil

        import bpcli.nn.layers as pkg

        for info in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg.__name__}.{info.name}")

    @staticmethod
    def graph_nodes_in_order(nodes):
        """The nodes of a chain in the order they were given (the graph may reorder its own list)."""
        return nodes

    def initial_loss(self) -> float:
        parts = self.model.loss(self.X, self.y, training=False)
        return float(getattr(parts, "total", parts))

    def __call__(self) -> float:
        loss, reg_loss, _ = self.train_step.forward(self.X, self.y)
        self.train_step.backward_and_update()
        return loss + reg_loss


def bpcli_version() -> str:
    try:
        import bpcli

        return bpcli.__version__
    except Exception:  # noqa: BLE001 - a version is only decoration in the report
        return "?"
