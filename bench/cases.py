"""The benchmark's models: one neutral description each, built by every side (bpcli, torch, NumPy).

An architecture is a list of `Op`s applied in order to a per-example input shape; the loss is
always softmax cross-entropy (mean over the batch) and the update SGD with momentum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Op:
    """One layer: kind is dense | relu | conv | maxpool | flatten; size = units or filters."""

    kind: str
    size: int = 0
    kernel: int = 3
    pad: int = 1


@dataclass(frozen=True)
class Case:
    """A model to time: per-example input shape, batch, layers, classes and the ratio target."""

    name: str
    input_shape: tuple
    batch: int
    ops: tuple
    n_classes: int
    target: float  # bpcli/torch step-time ratio to meet
    note: str = ""


def dense_chain(*units: int) -> tuple:
    """dense-relu-...-dense: relu between dense layers, none after the last."""
    ops: list[Op] = []
    for i, u in enumerate(units):
        if i:
            ops.append(Op("relu"))
        ops.append(Op("dense", u))
    return tuple(ops)


CASES: tuple[Case, ...] = (
    Case("spiral", (2,), 300, dense_chain(100, 3), 3, 0.6, "300x2 -> 100 -> 3, full batch"),
    Case("digits", (64,), 64, dense_chain(128, 10), 10, 0.6, "batch 64, 64 -> 128 -> 10"),
    Case("mnist", (784,), 128, dense_chain(512, 256, 10), 10, 1.0, "batch 128, 784 -> 512 -> 256 -> 10"),
    Case("wide", (1024,), 512, dense_chain(1024, 10), 10, 1.0, "batch 512, 1024 -> 1024 -> 10"),
    Case(
        "cnn",
        (1, 28, 28),
        64,
        (
            Op("conv", 16), Op("relu"), Op("maxpool"),
            Op("conv", 32), Op("relu"), Op("maxpool"),
            Op("flatten"), Op("dense", 10),
        ),
        10,
        1.5,
        "batch 64, 1x28x28: conv3x3(16)-relu-pool2, conv3x3(32)-relu-pool2, dense 10",
    ),
    Case(
        "convnet3",
        (3, 32, 32),
        50,
        (
            Op("conv", 32, kernel=7, pad=3), Op("relu"), Op("maxpool"),
            Op("flatten"), Op("dense", 100), Op("relu"), Op("dense", 10),
        ),
        10,
        1.5,
        "CS231n ThreeLayerConvNet, batch 50, 3x32x32: conv7x7(32)-relu-pool2, dense 100, relu, dense 10",
    ),
    Case(
        "conv4",
        (3, 32, 32),
        64,
        (
            Op("conv", 32), Op("relu"), Op("conv", 32), Op("relu"), Op("maxpool"),
            Op("conv", 64), Op("relu"), Op("conv", 64), Op("relu"), Op("maxpool"),
            Op("flatten"), Op("dense", 10),
        ),
        10,
        1.5,
        "batch 64, 3x32x32: conv3x3(32)-relu x2, pool2, conv3x3(64)-relu x2, pool2, dense 10",
    ),
)


def case_named(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(f"unknown case '{name}'; choose from: {', '.join(c.name for c in CASES)}")


@dataclass
class ShapeWalk:
    """Per-layer output shapes and the GEMM-equivalent FLOPs of one forward pass per example."""

    shapes: list = field(default_factory=list)
    forward_flops_per_example: float = 0.0
    gemm_layers: int = 0


def walk_shapes(case: Case) -> ShapeWalk:
    """Output shape of every op, and 2*M*N*K FLOPs for each dense and conv (per example)."""
    walk = ShapeWalk()
    shape = tuple(case.input_shape)
    for op in case.ops:
        if op.kind == "dense":
            fan_in = 1
            for d in shape:
                fan_in *= d
            walk.forward_flops_per_example += 2.0 * fan_in * op.size
            walk.gemm_layers += 1
            shape = (op.size,)
        elif op.kind == "conv":
            c, h, w = shape
            ho = h + 2 * op.pad - op.kernel + 1
            wo = w + 2 * op.pad - op.kernel + 1
            walk.forward_flops_per_example += 2.0 * ho * wo * op.size * c * op.kernel * op.kernel
            walk.gemm_layers += 1
            shape = (op.size, ho, wo)
        elif op.kind == "maxpool":
            c, h, w = shape
            shape = (c, h // 2, w // 2)
        elif op.kind == "flatten":
            n = 1
            for d in shape:
                n *= d
            shape = (n,)
        walk.shapes.append(shape)
    return walk


def train_step_flops(case: Case) -> float:
    """FLOPs of one training step: 3x the forward GEMMs (forward, dW, dX), the issue's count."""
    return 3.0 * walk_shapes(case).forward_flops_per_example * case.batch


def numpy_reference_supported(case: Case) -> Optional[str]:
    """None when the hand-written NumPy reference covers this case, else why not."""
    if all(op.kind in ("dense", "relu") for op in case.ops):
        return None
    return "the NumPy reference is an MLP only"
