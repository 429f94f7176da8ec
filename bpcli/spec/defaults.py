"""THE defaults of a spec: every section but `model` may be left out of a YAML file.

A section given without `type:` (or with the default's type) is merged over the default
below; a section with another type starts from that entry's own signature defaults.
`bpcli show` prints the resolved spec, so every default is visible.
"""

from __future__ import annotations

DEFAULT_SEED = 0

DEFAULT_SECTIONS: dict[str, dict] = {
    # CS231n's spiral: 3 classes of 2-D points
    "data": {"type": "spiral"},
    # stable softmax + cross-entropy with a fused backward
    "loss": {"type": "softmax_cross_entropy"},
    # 0.5 * strength * sum(W**2) over weights (not biases), as in the lecture's spiral net
    "regularization": {"type": "l2", "strength": 1e-3},
    # plain gradient descent; lr 1.0 is the lecture's value for the full-batch spiral net
    "optimizer": {"type": "sgd", "lr": 1.0},
    "schedule": {"type": "constant"},
}
# `train:` defaults are the field defaults of bpcli.training.options.TrainOptions.

BUILTIN_SUFFIX = ".yaml"
