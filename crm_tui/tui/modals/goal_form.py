"""The goal form: metric, period, target, owner and (for deals advanced) the stage.

``save(values)`` is the screen's call into ``services.set_goal`` (in the form's worker): setting
the goal of an owner, metric and period that has one changes its target. A won-value target is
typed in currency units of the home currency ("120000" is 120,000.00).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crm_tui.models import GOAL_METRICS, GOAL_PERIODS
from crm_tui.tui.modals.form import Field, FormScreen
from crm_tui.validate import Check

GOAL_FIELDS = (
    Field("metric", "Goal", kind="select", options=GOAL_METRICS),
    Field("period", "Every", kind="select", options=GOAL_PERIODS),
    Field("target", "Target", placeholder="won value: an amount, e.g. 120000; otherwise a count"),
    Field("owner", "Owner", placeholder="whose goal; blank: everyone's"),
    Field("stage", "Into stage", placeholder="deals advanced only: the stage the deals must enter"),
)
GOAL_DEFAULTS = {"metric": "won_value", "period": "month"}


def _target_check(value: object) -> object:
    from crm_tui.errors import ValidationError

    if not str(value or "").strip():
        raise ValidationError("a goal needs a target greater than 0", field="target")
    return value


class GoalFormScreen(FormScreen):
    """``save(values)`` sets the goal; ``values`` pre-fills (the owner shown on Reports)."""

    CSS_PATH = "goal_form.tcss"
    FIELDS = GOAL_FIELDS

    def __init__(self, save: Callable[[dict[str, Any]], Any], *, values: Mapping[str, Any] | None = None) -> None:
        super().__init__("Set a goal", save, values={**GOAL_DEFAULTS, **(values or {})})

    def checks(self) -> Mapping[str, Check]:
        return {"target": _target_check}
