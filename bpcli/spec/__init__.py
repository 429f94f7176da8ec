"""YAML model specs: load (safely, with positions), override, validate, build.

    from bpcli.spec import load_spec, build_model
    spec = load_spec("spiral", ["optimizer.lr=0.5"])
    model = build_model(spec, input_shape=(2,), n_classes=3)
"""

from bpcli.spec.build import build_graph, build_model
from bpcli.spec.build_training import build_optimizer, build_schedule
from bpcli.spec.load import builtin_names, load_spec, load_spec_text
from bpcli.spec.model_spec import NodeSpec
from bpcli.spec.validate import Spec

__all__ = ["Spec", "NodeSpec", "load_spec", "load_spec_text", "build_model", "build_graph", "build_optimizer", "build_schedule", "builtin_names"]
