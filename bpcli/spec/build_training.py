"""A validated spec's `optimizer:` and `schedule:` sections -> the objects the Trainer is given."""

from __future__ import annotations

from typing import Any, Dict, Optional


def build_optimizer(section: Dict[str, Any], params: Dict[str, Any]):
    """The optimizer `section` names ({"type": NAME, **options}, checked by the spec) over `params`."""
    from bpcli.nn.optim import OPTIMIZERS

    options = {k: v for k, v in section.items() if k != "type"}
    return OPTIMIZERS.get(section.get("type", "sgd"))(params, **options)


def build_schedule(section: Optional[Dict[str, Any]]):
    """The learning-rate schedule `section` names (None: constant)."""
    from bpcli.nn.schedules import SCHEDULES

    section = section or {"type": "constant"}
    return SCHEDULES.get(section.get("type", "constant"))(**{k: v for k, v in section.items() if k != "type"})
