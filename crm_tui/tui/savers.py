"""Form values → service calls, shared by every screen that opens the same form.

Each function runs inside a form's save worker (a thread): it may read the
database (to resolve a customer by name) before calling the service.
"""

from __future__ import annotations

from crm_tui.queries.pipeline import resolve_customer
from crm_tui.tui.modals.task_form import priority_value


def deal_values(db, values: dict) -> dict:
    """Form text → create_deal/update_deal keyword arguments (customer resolved by name)."""
    out = {
        "title": values["title"],
        "customer_id": resolve_customer(db, values.get("customer", "")),
        "amount": values.get("amount", "").strip() or "0",
        "owner": values.get("owner", ""),
        "expected_close": values.get("expected_close", "").strip() or None,
        "probability": values.get("probability", "").strip() or None,
    }
    return out


def task_saver(app, *, deal_id: int | None = None):
    """A form ``save`` callable: typed values → services.add_task (run in a thread)."""
    db, services = app.db, app.services

    def save(values: dict):
        due = values.get("due", "").strip()
        if len(due) == 10:  # a bare date: 09:00 local time that day
            due += " 09:00"
        return services.add_task(
            values.get("subject", ""),
            kind=values.get("kind", "todo").strip().lower() or "todo",
            due_at=due or None,
            priority=priority_value(values.get("priority", "")),
            owner=values.get("owner", ""),
            customer_id=resolve_customer(db, values.get("customer", "")),
            deal_id=deal_id,
        )

    return save
