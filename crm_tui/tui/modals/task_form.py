"""The one task form, wherever a task is added: the Tasks queue, a deal's page, a customer's page.

Subject, kind, due, priority, owner, customer. The due field takes what a rep
types (``fri``, ``tomorrow 14:00``, ``+3d``, ``next week``, ISO; see
``crm_tui.dates``) as local time; a date alone means the rep's default due time
(``"default_due_time"`` in the settings, 09:00 unless set). Blank: no due date.
``crm_tui.tui.savers.task_saver`` turns the values into ``services.add_task``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from textual.suggester import Suggester

from crm_tui import validate as v
from crm_tui.config import default_due_time
from crm_tui.dates import MOMENT_HINT
from crm_tui.models import TASK_KINDS
from crm_tui.tui.modals.form import Field, FormScreen, app_now, customer_lookups
from crm_tui.validate import PRIORITIES, Check

__all__ = ["PRIORITIES", "TASK_FIELDS", "TaskFormScreen", "priority_value", "task_checks"]

TASK_FIELDS = (
    Field("subject", "Subject", placeholder="what to do, e.g. Call back about the quote"),
    Field("kind", "Kind", kind="select", options=TASK_KINDS),
    Field("due", "Due", placeholder=MOMENT_HINT),
    Field("priority", "Priority", kind="select", options=PRIORITIES),
    Field("owner", "Owner", placeholder="who does it"),
    Field("customer", "Customer", placeholder="optional; start typing a name, → accepts"),
)

#: what a new task starts with, on every screen
TASK_DEFAULTS = {"kind": "todo", "priority": "normal"}


def task_checks(now: dt.datetime, due_time: dt.time) -> dict[str, Check]:
    """The task fields' checks (the services' validators; the customer is resolved by the saver)."""
    return {
        "subject": partial(v.text, field="subject", required=True, max_len=500),
        "kind": lambda value: v.choice(value or "todo", "kind", TASK_KINDS),
        "due": partial(v.natural_moment, field="due", now=now, default_time=due_time),
        "priority": v.priority,
        "owner": partial(v.text, field="owner"),
    }


def priority_value(text: str) -> int:
    """'high' → 2; also accepts 0–3. Raises ValidationError naming the choices."""
    return v.priority(text)


class TaskFormScreen(FormScreen):
    """``save(values)`` adds the task (``task_saver``); ``values`` pre-fills (owner, customer)."""

    CSS_PATH = "task_form.tcss"
    FIELDS = TASK_FIELDS
    ERROR_FIELDS = {"due_at": "due", "customer_id": "customer"}

    def __init__(
        self,
        title: str,
        save: Callable[[dict[str, Any]], Any],
        *,
        values: Mapping[str, Any] | None = None,
        suggesters: dict[str, Suggester] | None = None,
    ) -> None:
        super().__init__(title, save, values={**TASK_DEFAULTS, **(values or {})}, suggesters=suggesters)

    def checks(self) -> Mapping[str, Check]:
        return task_checks(app_now(self.app), default_due_time())

    def lookups(self) -> Mapping[str, Check]:
        return customer_lookups(self.app, self.initial.get("customer"))

    def prepared(self, values: dict[str, Any], cleaned: Mapping[str, object]) -> dict[str, Any]:
        """The due time as checked here (one clock for the check and the save), as ISO UTC."""
        due = cleaned.get("due")
        return {**values, "due": due.isoformat() if isinstance(due, dt.datetime) else ""}
