"""Every service: the happy path a screen relies on, and each rejection
(with a message a user can act on, and nothing written)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from crm_tui.errors import ConflictError, NotFoundError, ValidationError
from crm_tui.models import ChangeLog, Contact, Customer, Deal, Order, Stage, StageChange, Task


def count(db, model, *where):
    with db.read() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar()


def stage_named(db, name):
    with db.read() as s:
        return s.execute(select(Stage).where(Stage.name == name)).scalar_one()


def changes(db):
    seen = []
    db.subscribe(seen.append)
    return seen


# -- customers -------------------------------------------------------------------


def test_create_customer_stores_fields_and_announces(db, services, clock):
    seen = changes(db)
    c = services.create_customer(
        name="  Acme Corp  ", email="sales@acme.example", tags="vip, ,hardware", status="Prospect"
    )
    stored = services.get(Customer, c.id)
    assert stored.name == "Acme Corp"
    assert stored.name_key == "acmecorp"
    assert stored.tags == "vip, hardware"
    assert stored.status == "prospect"
    assert stored.owner == "ann"
    assert stored.created_at == clock.now and stored.created_at.tzinfo is not None
    assert [c.tables for c in seen] == [frozenset({"customer", "journal"})]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"name": ""}, "name is required"),
        ({"name": "X", "email": "not-an-email"}, "email must look like name@example.com"),
        ({"name": "X", "status": "vip"}, "status must be one of lead, prospect, customer, churned"),
        ({"name": "X" * 201}, "name is too long (201 characters; at most 200)"),
        ({"name": "bad\x00name"}, "name contains a control character (U+0000)"),
        ({"name": "esc\x1b[31m"}, "control character (U+001B)"),
        ({"name": "X", "colour": "red"}, "customers have no field 'colour'"),
    ],
)
def test_create_customer_rejections(db, services, fields, message):
    with pytest.raises(ValidationError) as err:
        services.create_customer(**fields)
    assert message in err.value.message
    assert count(db, Customer) == 0


def test_markup_and_wide_text_are_stored_as_typed(services):
    c = services.create_customer(name="[red]ACME[/red] 株式会社 🚀 שלום")
    assert services.get(Customer, c.id).name == "[red]ACME[/red] 株式会社 🚀 שלום"


def test_update_customer_bumps_version_and_detects_stale_edit(services):
    c = services.create_customer(name="Acme")
    updated = services.update_customer(c.id, expected_version=c.version, phone="+1 555 0100")
    assert updated.version == c.version + 1 and updated.phone == "+1 555 0100"
    with pytest.raises(ConflictError) as err:
        services.update_customer(c.id, expected_version=c.version, phone="+1 555 0199")
    assert "changed in another session" in err.value.message
    assert err.value.current["phone"] == "+1 555 0100"
    assert services.get(Customer, c.id).phone == "+1 555 0100"


def test_soft_delete_and_restore_customer(db, services):
    c = services.create_customer(name="Acme")
    services.delete_customer(c.id)
    assert count(db, Customer, Customer.deleted_at.is_(None)) == 0
    with pytest.raises(NotFoundError):
        services.get(Customer, c.id)
    services.restore_customer(c.id)
    assert services.get(Customer, c.id).deleted_at is None


def test_contacts(services):
    c = services.create_customer(name="Acme")
    p = services.create_contact(c.id, name="Jo Park", title="CTO", email="jo@acme.example")
    assert services.update_contact(p.id, title="CEO").title == "CEO"
    with pytest.raises(ValidationError, match="email must look like"):
        services.create_contact(c.id, name="Al", email="al@")
    with pytest.raises(NotFoundError):
        services.create_contact(9999, name="Nobody")
    services.delete_contact(p.id)
    with pytest.raises(NotFoundError):  # gone from the customer's page
        services.get(Contact, p.id)
    services.restore_contact(p.id)
    back = services.get(Contact, p.id)
    assert back.deleted_at is None and (back.name, back.title) == ("Jo Park", "CEO")


# -- deals -----------------------------------------------------------------------


def test_create_deal_starts_in_first_stage_with_history(db, services):
    c = services.create_customer(name="Acme")
    d = services.create_deal("Server refresh", customer_id=c.id, amount="$12,500.50", expected_close="2026-04-30")
    assert d.amount_cents == 1_250_050
    assert d.stage_id == stage_named(db, "Lead").id
    assert d.expected_close == dt.date(2026, 4, 30)
    assert d.closed_at is None
    assert count(db, StageChange, StageChange.deal_id == d.id) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"amount": "abc"}, "amount must be a number ≥ 0, got 'abc'"),
        ({"amount": "-5"}, "amount must be a number ≥ 0"),
        ({"amount": "1e309"}, "amount is too large"),
        ({"amount": "NaN"}, "amount must be a finite number"),
        ({"amount": "1.005"}, "more than two decimals"),
        ({"probability": "150"}, "probability must be a whole number from 0 to 100"),
        ({"expected_close": "2024-02-30"}, "expected close date must be a real date"),
        ({"customer_id": 4242}, "customer #4242 does not exist"),
    ],
)
def test_create_deal_rejections(db, services, kwargs, message):
    with pytest.raises((ValidationError, NotFoundError)) as err:
        services.create_deal("Deal", **kwargs)
    assert message in err.value.message
    assert count(db, Deal) == 0


def test_negative_zero_amount_is_zero(services):
    assert services.create_deal("Free pilot", amount="-0").amount_cents == 0


def test_deal_amount_from_product_lines(services):
    p = services.create_product("Widget", "19.99")
    d = services.create_deal("Widgets", products=[(p.id, 3)])
    assert d.amount_cents == 5997


def test_move_step_records_history_and_creates_stage_tasks(db, services, clock):
    d = services.create_deal("Deal", amount=100)
    clock.advance(days=2)
    move = services.move_deal_step(d.id, +1)
    assert move.to_stage.name == "Qualified"
    deal = services.get(Deal, d.id)
    assert deal.stage_entered_at == clock.now
    # the Qualified stage's template task is created for the owner, due after its duration
    task = services.get(Task, move.created_task_ids[0])
    assert task.owner == "ann" and task.deal_id == d.id
    assert task.due_at == clock.now + dt.timedelta(days=2)
    assert count(db, StageChange, StageChange.deal_id == d.id) == 2


def test_move_step_bounds(services):
    d = services.create_deal("Deal")
    with pytest.raises(ValidationError, match="Lead is the first stage"):
        services.move_deal_step(d.id, -1)
    for _ in range(3):
        services.move_deal_step(d.id, +1)
    with pytest.raises(ValidationError, match="last open stage; win"):
        services.move_deal_step(d.id, +1)


def test_win_lose_reopen(db, services, clock):
    d = services.create_deal("Deal", amount=100)
    won = services.win_deal(d.id)
    assert won.deal.closed_at == clock.now and won.to_stage.outcome == "won"
    with pytest.raises(ValidationError, match="is won; reopen it"):
        services.move_deal_step(d.id, +1)
    reopened = services.reopen_deal(d.id)
    assert reopened.to_stage.name == "Lead" and reopened.deal.closed_at is None
    with pytest.raises(ValidationError, match="lost reason is required"):
        services.lose_deal(d.id, "   ")
    lost = services.lose_deal(d.id, "Went with a competitor")
    assert services.get(Deal, d.id).lost_reason == "Went with a competitor"
    assert lost.to_stage.outcome == "lost"


def test_a_won_deal_makes_its_customer_a_customer_and_undoing_the_win_takes_that_back(db, services):
    from crm_tui.models import Customer

    lead = services.create_customer(name="Acme", status="lead")
    gone = services.create_customer(name="Globex", status="churned")
    first = services.create_deal("First", customer_id=lead.id)
    assert services.win_deal(first.id).promoted == ("Acme", "lead")
    assert services.get(Customer, lead.id).status == "customer"
    second = services.create_deal("Second", customer_id=lead.id)
    assert services.win_deal(second.id).promoted is None  # already a customer: nothing to say
    back = services.create_deal("Back", customer_id=gone.id)
    services.move_deal(back.id, stage_named(db, "Won").id)  # moved to Won, not w: the same rule
    assert services.get(Customer, gone.id).status == "customer"
    services.undo()
    assert services.get(Customer, gone.id).status == "churned"
    services.reopen_deal(first.id)  # reopening leaves the status to the rep
    assert services.get(Customer, lead.id).status == "customer"


def test_a_rehearsed_move_runs_and_leaves_nothing_behind(db, services):
    """The app rehearses one move at start-up so the first real one is quick: it must keep
    nothing, tell nobody, and cope with an empty book and a deal in the last open stage."""
    assert services.rehearse_move() is False  # no deals yet
    d = services.create_deal("Deal")
    services.move_deal(d.id, stage_named(db, "Negotiation").id)  # last open stage: rehearses H
    tables = (Deal, StageChange, Task, ChangeLog)
    before = {m: count(db, m) for m in tables}
    version = services.get(Deal, d.id).version
    seen = changes(db)
    assert services.rehearse_move() is True
    assert {m: count(db, m) for m in tables} == before
    deal = services.get(Deal, d.id)
    assert (deal.stage_id, deal.version) == (stage_named(db, "Negotiation").id, version)
    assert seen == []
    services.move_deal_step(d.id, -1)  # and the real thing still works afterwards
    assert services.get(Deal, d.id).stage_id == stage_named(db, "Proposal").id


def test_move_to_another_pipelines_stage_is_refused(db, services):
    from crm_tui.models import Pipeline

    with db.write({"pipeline", "stage"}) as s:
        p = Pipeline(name="Renewals", position=1)
        s.add(p)
        s.flush()
        other = Stage(pipeline_id=p.id, name="Due", position=0, probability=50)
        s.add(other)
        s.flush()
        other_id = other.id
    d = services.create_deal("Deal")
    with pytest.raises(ValidationError, match="another pipeline"):
        services.move_deal(d.id, other_id)


def test_stale_deal_edit_is_detected(services):
    d = services.create_deal("Deal", amount=100)
    services.update_deal(d.id, amount="200")
    with pytest.raises(ConflictError):
        services.update_deal(d.id, expected_version=d.version, amount="300")
    assert services.get(Deal, d.id).amount_cents == 20000


def test_delete_and_restore_deal(db, services):
    d = services.create_deal("Deal")
    services.delete_deal(d.id)
    with pytest.raises(NotFoundError):
        services.win_deal(d.id)
    services.restore_deal(d.id)
    assert services.get(Deal, d.id).deleted_at is None  # back in every list
    services.win_deal(d.id)  # and it can be worked again
    won = services.get(Deal, d.id)
    assert won.stage_id == stage_named(db, "Won").id and won.closed_at is not None


# -- tasks and notes ----------------------------------------------------------------


def test_tasks_complete_reopen_snooze_reschedule(services, clock):
    c = services.create_customer(name="Acme")
    t = services.add_task("Call back", kind="call", customer_id=c.id, due_at=clock.now + dt.timedelta(hours=2))
    assert t.kind == "call" and t.owner == "ann"
    snoozed = services.snooze_task(t.id, days=1)
    assert snoozed.due_at == clock.now + dt.timedelta(days=1, hours=2)
    week = services.snooze_task(t.id, days=7)
    assert week.due_at == snoozed.due_at + dt.timedelta(days=7)
    moved = services.reschedule_task(t.id, dt.datetime(2026, 5, 1, 9, tzinfo=dt.UTC))
    assert moved.due_at == dt.datetime(2026, 5, 1, 9, tzinfo=dt.UTC)
    done = services.complete_task(t.id)
    assert done.done_at == clock.now
    with pytest.raises(ValidationError, match="already done"):
        services.complete_task(t.id)
    with pytest.raises(ValidationError, match="reopen it before snoozing"):
        services.snooze_task(t.id, days=1)
    assert services.reopen_task(t.id).done_at is None


def test_overdue_task_snoozes_from_now(services, clock):
    t = services.add_task("Late", due_at=clock.now - dt.timedelta(days=3))
    assert services.snooze_task(t.id, days=1).due_at == clock.now + dt.timedelta(days=1)


def test_task_rejections(db, services):
    with pytest.raises(ValidationError, match="subject is required"):
        services.add_task("")
    with pytest.raises(ValidationError, match="kind must be one of call, email, meeting, todo"):
        services.add_task("x", kind="fax")
    with pytest.raises(ValidationError, match="due must be a date"):
        services.add_task("x", due_at="next tuesday")
    with pytest.raises(ValidationError, match="priority must be between 0 and 3"):
        services.add_task("x", priority=9)
    assert count(db, Task) == 0


def test_task_on_deal_inherits_customer(services):
    c = services.create_customer(name="Acme")
    d = services.create_deal("Deal", customer_id=c.id)
    assert services.add_task("Follow up", deal_id=d.id).customer_id == c.id


def test_notes(services, clock):
    c = services.create_customer(name="Acme")
    n = services.add_note("Called; wants a demo.\nSecond line kept.", customer_id=c.id)
    assert n.body.endswith("Second line kept.") and n.author == "ann" and n.created_at == clock.now
    with pytest.raises(ValidationError, match="belongs to a customer or a deal"):
        services.add_note("orphan")
    with pytest.raises(ValidationError, match="note is required"):
        services.add_note("  ", customer_id=c.id)


# -- products and orders --------------------------------------------------------------


def test_order_lifecycle(db, services, clock):
    c = services.create_customer(name="Acme")
    p = services.create_product("Widget", "10.00")
    o = services.create_order(c.id, [(p.id, 3), (p.id, 1, "7.50")])
    assert o.number == f"SO-{o.id:06d}" and o.status == "draft"
    assert services.approve_order(o.id).approved_at == clock.now
    assert services.fulfil_order(o.id).status == "fulfilled"
    with pytest.raises(ValidationError, match="is fulfilled; it can move to nothing"):
        services.cancel_order(o.id)
    o2 = services.create_order(c.id, [(p.id, 1)])
    assert services.cancel_order(o2.id).status == "cancelled"
    with pytest.raises(ValidationError, match="is cancelled"):
        services.approve_order(o2.id)


def test_order_rejections(db, services):
    c = services.create_customer(name="Acme")
    p = services.create_product("Widget", 10)
    with pytest.raises(ValidationError, match="at least one line"):
        services.create_order(c.id, [])
    with pytest.raises(ValidationError, match="quantity must be"):
        services.create_order(c.id, [(p.id, 0)])
    with pytest.raises(NotFoundError):
        services.create_order(c.id, [(999, 1)])
    with pytest.raises(ValidationError, match="already exists"):
        services.create_product("WIDGET")
    assert count(db, Order) == 0


# -- transactions ----------------------------------------------------------------------


def test_failed_operation_writes_nothing_not_even_a_change_log(db, services):
    before = count(db, ChangeLog)
    with pytest.raises(ValidationError):
        services.lose_deal(services.create_deal("Deal").id, "")
    assert count(db, ChangeLog) == before + 1  # only the create_deal commit
