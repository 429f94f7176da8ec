"""Gradient checks: analytic gradients (backward passes) against centered differences, in float64.

`run_gradcheck(objectives, mode=..., k=..., h=..., seed=..., sweep=...)` -> GradcheckReport.
Objectives come from `targets`: one layer alone, an expression, or a model's loss.
"""

from bpcli.gradcheck.compare import Check
from bpcli.gradcheck.objective import Objective
from bpcli.gradcheck.runner import GradcheckReport, ObjectiveReport, choose_mode, run_gradcheck

__all__ = ["Check", "Objective", "GradcheckReport", "ObjectiveReport", "choose_mode", "run_gradcheck"]
