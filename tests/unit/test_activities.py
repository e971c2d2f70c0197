"""Logging an activity in one go: the call done with its outcome, its note and the next step, in one
transaction that one undo takes back."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm_tui.errors import ValidationError
from crm_tui.models import Note, Task


def rows(db, model, **where):
    with db.read() as s:
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return s.execute(query.order_by(model.id)).scalars().all()


def test_a_call_on_a_deal_writes_the_activity_its_note_and_the_next_step_and_one_undo_takes_all_back(
    db, services, clock
):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Rollout", customer_id=acme.id)
    due = clock.now + dt.timedelta(days=2)
    done = services.log_activity(
        kind="call", outcome="reached", note="Wants the quote by Friday", deal_id=deal.id,
        next_subject="Send the quote", next_due=due,
    )  # fmt: skip
    call, step = rows(db, Task, deal_id=deal.id)
    assert (call.id, call.subject, call.kind, call.outcome) == (done.id, "Call: reached", "call", "reached")
    assert call.done_at == clock.now and call.customer_id == acme.id and call.owner == "ann"
    assert (step.subject, step.kind, step.due_at, step.done_at, step.customer_id) == (
        "Send the quote", "call", due, None, acme.id,
    )  # fmt: skip
    (note,) = rows(db, Note, deal_id=deal.id)
    assert note.body == "Wants the quote by Friday" and note.customer_id == acme.id
    assert services.next_undo() == "log call with 'Rollout' (reached)"
    services.undo()
    assert rows(db, Task, deal_id=deal.id) == [] and rows(db, Note, deal_id=deal.id) == []


def test_logging_on_an_open_task_completes_it_with_the_outcome(db, services, clock):
    acme = services.create_customer(name="Acme")
    task = services.add_task("Call Anna", kind="call", customer_id=acme.id, due_at=clock.now)
    services.log_activity(kind="call", outcome="no answer", task_id=task.id)
    (done,) = rows(db, Task, customer_id=acme.id)
    assert (done.id, done.subject, done.outcome, done.done_at) == (task.id, "Call Anna", "no answer", clock.now)
    assert rows(db, Note) == []
    with pytest.raises(ValidationError, match="'Call Anna' is already done"):
        services.log_activity(kind="call", outcome="reached", task_id=task.id)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"outcome": "went great"}, "outcome"),
        ({"kind": "fax"}, "kind"),
        ({"next_due": "2026-03-20 09:00+00:00"}, "next step has a due date but no subject"),
        ({"customer_id": None}, "belongs to a task, a deal or a customer"),
    ],
)
def test_a_wrong_activity_is_refused_and_writes_nothing(db, services, fields, message):
    acme = services.create_customer(name="Acme")
    values = {"kind": "call", "outcome": "reached", "customer_id": acme.id, **fields}
    with pytest.raises(ValidationError, match=message):
        services.log_activity(**values)
    assert rows(db, Task) == [] and rows(db, Note) == []
