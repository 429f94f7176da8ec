"""The `train:` section of a spec: every option of the training loop, with its default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Optional, Union



@dataclass(frozen=True)
class AtLeast:
    """A lower bound for an Annotated option (read by the spec checker like annotated_types.Ge)."""

    ge: int


@dataclass
class EarlyStopping:
    """Stop when `monitor` has not improved for `patience` epochs; restore the best weights."""

    monitor: Literal["val_loss", "val_accuracy", "train_loss", "train_accuracy"] = "val_loss"
    patience: int = 10
    min_delta: float = 0.0


@dataclass
class TrainOptions:
    """How to train: epochs, batches, precision, clipping, checkpoints."""

    epochs: int = 100
    batch_size: Optional[int] = None  # None = full batch
    dtype: Literal["float32", "float64"] = "float32"
    shuffle: bool = True
    clip_norm: Optional[float] = None  # clip the global gradient norm to this value
    early_stopping: Optional[EarlyStopping] = None
    checkpoint_every: int = 1  # epochs between `last` checkpoints
    checkpoint_min_seconds: float = 2.0  # and at most one per this many seconds (the end, Ctrl-C always save)
    eval_every: int = 1  # epochs between validation passes
    # BLAS threads while training (any BLAS threadpoolctl knows): "auto" = by model size (bpcli/fast/thread_policy.py) unless OPENBLAS_NUM_THREADS/OMP_NUM_THREADS
    # is set (bpcli/fast/thread_policy.py says when one thread is faster)
    blas_threads: Annotated[Union[Literal["auto"], int], AtLeast(1)] = "auto"
    # flush subnormal floats (|x| < 1.2e-38 in float32) to zero while training: weights decaying
    # towards zero otherwise make every GEMM slow (see bpcli/host/denormals.py); x86-64 Linux only
    flush_denormals: bool = True
    # which layer implementations train: "fast" = the tested fast twins (bpcli/fast/),
    # "reference" = the readable layers of bpcli/nn/layers/ (same math, slower)
    kernels: Literal["fast", "reference"] = "fast"
    # start from the weights in this .safetensors file (torch state_dict or bpcli names, as `bpcli
    # export` writes them; every name and shape checked) instead of the initializers'
    init_from: Optional[str] = None
