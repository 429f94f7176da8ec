"""Gradient checks: analytic gradients (backward passes) against centered differences, in float64.

`run_gradcheck(objectives, mode=..., k=..., h=..., seed=..., sweep=...)` -> GradcheckReport.
Objectives come from `targets`: one layer alone, an expression, or a model's loss.
"""

import sys
import types

from bpcli.gradcheck.compare import Check
from bpcli.gradcheck.objective import Objective
from bpcli.gradcheck.runner import GradcheckReport, ObjectiveReport, choose_mode, run_gradcheck

__all__ = ["Check", "Objective", "GradcheckReport", "ObjectiveReport", "choose_mode", "run_gradcheck"]


class _CallableModule(types.ModuleType):
    """`bpcli.gradcheck(...)` checks a target (bpcli.notebook.gradcheck) while
    `bpcli.gradcheck.check`, `.runner` ... stay this package's modules: the package's name is
    the function's, so the package itself is made callable."""

    def __call__(self, *args, **kwargs):
        from bpcli.notebook import gradcheck

        return gradcheck(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
