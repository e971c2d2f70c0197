"""Form values → service calls, shared by every screen that opens the same form.

Each function runs inside a form's save worker (a thread): it may read the
database (to resolve a customer by name) before calling the service. Every
field is checked and every failure reported at once (``ValidationErrors``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from crm_tui import validate as v
from crm_tui.config import default_due_time
from crm_tui.dates import local_today
from crm_tui.errors import ValidationError, ValidationErrors
from crm_tui.queries.pipeline import resolve_customer
from crm_tui.tui.modals.task_form import task_checks

if TYPE_CHECKING:
    from crm_tui.db import Database
    from crm_tui.models import Task
    from crm_tui.services import MoveResult, Services
    from crm_tui.tui.app import CrmApp


def won_message(result: MoveResult) -> str:
    """What a win says, with the rule it applied: "Won 'Rollout' — Acme is a customer now (was a lead)"."""
    from crm_tui.tui.literal import safe

    said = f"Won '{safe(result.deal.title)}'"
    if result.promoted is not None:
        name, was = result.promoted
        said += f" — {safe(name)} is a customer now (was {'an' if was[0] in 'aeiou' else 'a'} {was})"
    return said + " (ctrl+z takes it back)"


def deal_values(db: Database, values: dict[str, Any], *, services: Services | None = None) -> dict[str, Any]:
    """Form text → create_deal/update_deal keyword arguments (customer resolved by name, unless
    the form says which one it is: ``customer_id``, picked among customers sharing a name).

    ``expected_close`` may be natural (``+2w``, ``fri``), read against ``services.now()``
    (the system clock without ``services``). Raises ``ValidationErrors`` naming every field that is wrong.
    """
    errors: dict[str, str] = {}
    if values.get("customer_id") is not None:
        customer_id: int | None = int(values["customer_id"])
    else:
        customer_id = _customer(db, values.get("customer", ""), None, errors)
    close = values.get("expected_close", "").strip() or None
    if close is not None:
        now = services.now() if services is not None else dt.datetime.now(dt.UTC)
        try:
            day = v.natural_date(close, "expected close date", today=local_today(now))
            close = day.isoformat() if day else None
        except ValidationError as exc:
            errors["expected_close"] = exc.message
    if errors:
        raise ValidationErrors(errors)
    return {
        "title": values["title"],
        "customer_id": customer_id,
        "amount": values.get("amount", "").strip() or "0",
        "currency": values.get("currency", "").strip(),  # blank: the home currency
        "owner": values.get("owner", ""),
        "expected_close": close,
        "probability": values.get("probability", "").strip() or None,
    }


def _customer(db: Database, typed: str | None, fixed: tuple[int, str] | None, errors: dict[str, str]) -> int | None:
    """The customer the rep named: ``fixed`` (id, name) when the name is unchanged, else looked up by name."""
    name = (typed or "").strip()
    if fixed is not None and name.casefold() == fixed[1].strip().casefold():
        return fixed[0]
    try:
        return resolve_customer(db, name)
    except ValidationError as exc:
        errors["customer"] = exc.message
        return None


def task_saver(
    app: CrmApp,
    *,
    deal_id: int | None = None,
    customer: tuple[int, str] | None = None,
    task_id: int | None = None,
) -> Callable[[dict[str, Any]], Task]:
    """A ``TaskFormScreen`` save callable: typed values → services.add_task (run in a thread).

    The one rule for the due field, wherever the form was opened: natural or ISO text
    in local time; a date alone means the rep's default due time (settings
    ``"default_due_time"``, 09:00 unless set). ``customer`` (id, name) is the page's
    customer, used while the form's customer field still shows that name. With ``task_id`` it
    saves an edit of that task (services.update_task) instead.
    """
    db, services = app.db, app.services
    assert db is not None and services is not None  # a task form opens only once the database is open

    def save(values: dict[str, Any]) -> Task:
        cleaned, errors = v.check_all(values, task_checks(services.now(), default_due_time()))
        customer_id = _customer(db, values.get("customer"), customer, errors)
        if errors:
            raise ValidationErrors(errors)
        if task_id is not None:  # an edit: the task keeps its deal
            return services.update_task(
                task_id,
                subject=cleaned["subject"],
                kind=cleaned["kind"],
                due_at=cleaned["due"],
                priority=cleaned["priority"],
                owner=cleaned["owner"],
                customer_id=customer_id,
            )
        return services.add_task(
            cast(str, cleaned["subject"]),  # task_checks: the subject is text
            kind=cleaned["kind"],
            due_at=cleaned["due"],
            priority=cleaned["priority"],
            owner=cleaned["owner"],
            customer_id=customer_id,
            deal_id=deal_id,
        )

    return save


def activity_saver(
    app: CrmApp, *, task_id: int | None = None, deal_id: int | None = None, customer_id: int | None = None
) -> Callable[[dict[str, Any]], Task]:
    """An ``ActivityFormScreen`` save callable: typed values → services.log_activity (in a thread).
    The next step's due follows the task form's rule (local time; a date alone means the rep's
    default due time)."""
    from crm_tui.tui.modals.activity_form import activity_checks

    services = app.services
    assert services is not None  # the form opens only once the database is open

    def save(values: dict[str, Any]) -> Task:
        cleaned, errors = v.check_all(values, activity_checks(services.now(), default_due_time()))
        if cleaned.get("next_due") is not None and not cleaned.get("next"):
            errors["next"] = "the next step has a due date but no subject; say what it is, or clear the date"
        if errors:
            raise ValidationErrors(errors)
        return services.log_activity(
            kind=cast(str, cleaned["kind"]),
            outcome=cast(str, cleaned["outcome"]),
            note=cast(str, cleaned.get("note") or ""),
            task_id=task_id,
            deal_id=deal_id,
            customer_id=customer_id,
            next_subject=cast(str, cleaned.get("next") or ""),
            next_due=cast("dt.datetime | None", cleaned.get("next_due")),
        )

    return save
