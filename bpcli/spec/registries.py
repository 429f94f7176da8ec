"""Which registry each spec section names its entries from, and what the entries get injected.

Options of an entry are its keyword arguments minus `skip` (runtime objects the caller passes,
e.g. an optimizer's params). A registry whose module has not landed yet is None: its section
is then only checked for a `type:` string.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Optional

from bpcli.registry import Registry


@dataclass(frozen=True)
class SectionKind:
    """A `{type: NAME, **options}` section: its registry's module/attribute and injected args."""

    module: str
    attribute: str
    skip: tuple[str, ...] = ()

    def registry(self) -> Optional[Registry]:
        try:
            return getattr(importlib.import_module(self.module), self.attribute)
        except (ImportError, AttributeError):
            return None


SECTION_KINDS: dict[str, SectionKind] = {
    "data": SectionKind("bpcli.data", "DATASETS", ("rng", "base_dir")),
    "loss": SectionKind("bpcli.nn.losses", "LOSSES"),
    "regularization": SectionKind("bpcli.nn.regularization", "REGULARIZERS", ("weights",)),
    "optimizer": SectionKind("bpcli.nn.optim", "OPTIMIZERS", ("params",)),
    "schedule": SectionKind("bpcli.nn.schedules", "SCHEDULES"),
}


def layer_registry() -> Registry:
    """LAYERS with every built-in layer module imported (registered)."""
    import bpcli.nn.layers  # noqa: F401  (importing registers the built-in layers)
    from bpcli.nn.layer import LAYERS

    return LAYERS
