"""The task form: subject, kind, due (local time), priority, owner, customer."""

from __future__ import annotations

from textual.suggester import SuggestFromList

from crm_tui.models import TASK_KINDS
from crm_tui.tui.modals.form import Field, FormScreen

PRIORITIES = ("low", "normal", "high", "urgent")


class TaskFormScreen(FormScreen):
    CSS_PATH = "task_form.tcss"
    FIELDS = (
        Field("subject", "Subject", placeholder="what to do"),
        Field("kind", "Kind", placeholder="call, email, meeting or todo"),
        Field("due", "Due", placeholder="YYYY-MM-DD or YYYY-MM-DD HH:MM, local time (optional)"),
        Field("priority", "Priority", placeholder="low, normal, high or urgent"),
        Field("owner", "Owner", placeholder="who does it"),
        Field("customer", "Customer", placeholder="optional; start typing a name"),
    )
    ERROR_FIELDS = {"due_at": "due", "customer_id": "customer"}

    def __init__(self, title, save, *, values=None, suggesters=None) -> None:
        suggesters = dict(suggesters or {})
        suggesters.setdefault("kind", SuggestFromList(TASK_KINDS, case_sensitive=False))
        suggesters.setdefault("priority", SuggestFromList(PRIORITIES, case_sensitive=False))
        values = {"kind": "todo", "priority": "normal", **(values or {})}
        super().__init__(title, save, values=values, suggesters=suggesters)


def priority_value(text: str) -> int:
    """'high' → 2; also accepts 0–3. Raises ValidationError naming the choices."""
    from crm_tui.errors import ValidationError

    t = (text or "normal").strip().lower()
    if t in PRIORITIES:
        return PRIORITIES.index(t)
    if t in ("0", "1", "2", "3"):
        return int(t)
    raise ValidationError(f"priority must be one of {', '.join(PRIORITIES)}, got {text!r}", field="priority")
