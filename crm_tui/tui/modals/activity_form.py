"""Log an activity in one go: what happened (kind, outcome), a note, and the next step with its date.

Opened from a task (which it completes), a deal or a customer; ``crm_tui.tui.savers.activity_saver``
turns the values into ``services.log_activity`` — one transaction, one undo.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import partial
from typing import Any

from crm_tui import validate as v
from crm_tui.config import default_due_time
from crm_tui.dates import MOMENT_HINT
from crm_tui.models import TASK_OUTCOMES
from crm_tui.tui.modals.form import Field, FormScreen, app_now
from crm_tui.validate import Check

#: the kinds of activity a rep logs (a to-do is not something that happened with a customer)
ACTIVITY_KINDS = ("call", "email", "meeting")

ACTIVITY_FIELDS = (
    Field("kind", "Kind", kind="select", options=ACTIVITY_KINDS),
    Field("outcome", "Outcome", kind="select", options=TASK_OUTCOMES),
    Field("next", "Next step", placeholder="what comes next, e.g. Send the quote (blank: none)"),
    Field("next_due", "Due", placeholder=MOMENT_HINT),
    Field("note", "Note", kind="text"),
)


def activity_checks(now: dt.datetime, due_time: dt.time) -> dict[str, Check]:
    return {
        "kind": lambda value: v.choice(value or "call", "kind", ACTIVITY_KINDS),
        "outcome": lambda value: v.choice(value, "outcome", TASK_OUTCOMES),
        "next": partial(v.text, field="next step", max_len=500),
        "next_due": partial(v.natural_moment, field="due", now=now, default_time=due_time),
        "note": partial(v.text, field="note", max_len=v.MAX_TEXT, multiline=True),
    }


class ActivityFormScreen(FormScreen):
    """``save(values)`` logs the activity (``activity_saver``)."""

    CSS_PATH = "activity_form.tcss"
    FIELDS = ACTIVITY_FIELDS
    ERROR_FIELDS = {"next_subject": "next"}

    def checks(self) -> Mapping[str, Check]:
        return activity_checks(app_now(self.app), default_due_time())

    def prepared(self, values: dict[str, Any], cleaned: Mapping[str, object]) -> dict[str, Any]:
        """The due time as checked here (one clock for the check and the save), as ISO UTC."""
        due = cleaned.get("next_due")
        return {**values, "next_due": due.isoformat() if isinstance(due, dt.datetime) else ""}
