"""Log a note (the interaction timeline) or a follow-up task on a customer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_tui.tui.modals.form import Field, FormScreen

TASK_KINDS = ("call", "email", "meeting", "todo")


class NoteForm(FormScreen):
    """``save({"note": text})`` adds the note and returns it."""

    def __init__(self, customer_name: str, save: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__(f"Note on {customer_name}", save, fields=(Field("note", "Note", kind="text"),))


class TaskForm(FormScreen):
    """``save({"subject", "kind", "due"})`` adds the task and returns it."""

    FIELDS = (
        Field("subject", "Subject", placeholder="Call back about the quote"),
        Field("kind", "Kind", kind="select", options=TASK_KINDS),
        Field("due", "Due", placeholder="YYYY-MM-DD or YYYY-MM-DD HH:MM (local time)"),
    )

    def __init__(self, customer_name: str, save: Callable[[dict[str, Any]], Any], values: dict | None = None) -> None:
        super().__init__(f"Task for {customer_name}", save, values=values or {"kind": "call"})
