"""The change journal: every committed change is recorded with who and what, in the same
transaction, and undo/redo take back exactly the rep's own last action — or refuse, changing
nothing, when a record it touched was changed since."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from crm_tui.errors import ConflictError, CrmError, ValidationError
from crm_tui.models import Customer, Deal, JournalChange, JournalEntry, Stage, StageChange, Task
from crm_tui.services import Services

#: bookkeeping a revert moves forward (an undo is a new change): left out of "the same state"
BOOKKEEPING = {"version", "updated_at"}
STATE_TABLES = (
    "customer",
    "contact",
    "deal",
    "deal_product",
    "stage_change",
    "task",
    "note",
    "sales_order",
    "order_line",
    "product",
)


def state(db) -> dict[str, list[tuple]]:
    """Every business row of the database (journal and change log aside), bookkeeping aside."""
    from sqlmodel import SQLModel

    out = {}
    with db.read() as s:
        conn = s.connection()
        for table in SQLModel.metadata.sorted_tables:
            if table.name in STATE_TABLES:
                cols = [c for c in table.columns if c.name not in BOOKKEEPING]
                out[table.name] = sorted(conn.execute(select(*cols)).all(), key=repr)
    return out


def entries(db) -> list[JournalEntry]:
    with db.read() as s:
        return list(s.scalars(select(JournalEntry).order_by(JournalEntry.id)))


def stage(db, name) -> Stage:
    with db.read() as s:
        return s.scalars(select(Stage).where(Stage.name == name)).one()


def test_every_service_change_is_journaled_with_who_what_and_its_values(db, services, clock):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Rollout", customer_id=acme.id, amount="1000")
    services.update_deal(deal.id, amount="2500")
    services.move_deal_step(deal.id, 1)
    task = services.add_task("Call Anna", customer_id=acme.id, due_at="2026-03-17 09:00+00:00")
    services.snooze_task(task.id, days=1)
    services.complete_task(task.id)
    services.add_note("Went well", deal_id=deal.id)
    services.lose_deal(deal.id, "No budget")
    services.delete_customer(acme.id)
    got = [(e.who, e.kind, e.action) for e in entries(db)]
    assert got == [
        ("ann", "create", "add customer 'Acme'"),
        ("ann", "create", "add deal 'Rollout'"),
        ("ann", "edit", "edit deal 'Rollout' (amount)"),
        ("ann", "move", "move 'Rollout' from Lead to Qualified"),
        ("ann", "create", "add task 'Call Anna'"),
        ("ann", "snooze", "snooze 'Call Anna' to Wed Mar 18 09:00"),
        ("ann", "complete", "complete 'Call Anna'"),
        ("ann", "note", "note on 'Rollout': Went well"),
        ("ann", "lose", "lose 'Rollout' (No budget)"),
        ("ann", "delete", "delete customer 'Acme'"),
    ]
    edit = entries(db)[2]
    assert (edit.record_table, edit.record_id, edit.deal_id, edit.customer_id) == ("deal", deal.id, deal.id, acme.id)
    assert edit.at == clock.now
    with db.read() as s:
        ((before, after),) = s.execute(
            select(JournalChange.before, JournalChange.after).where(JournalChange.entry_id == edit.id)
        ).all()
    assert '"amount_cents": 100000' in before and '"amount_cents": 250000' in after


def test_a_refused_change_writes_no_journal_row(db, services):
    services.create_customer(name="Acme")
    with pytest.raises(ValidationError):
        services.create_customer(name="")
    with pytest.raises(ValidationError):
        services.create_deal("Rollout", amount="abc")
    assert len(entries(db)) == 1


def test_undo_and_redo_walk_the_reps_own_actions_whatever_their_kind(db, services, clock):
    start = state(db)
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Rollout", customer_id=acme.id, amount="1000")
    moved = state(db)
    services.move_deal_step(deal.id, 1)  # makes the Qualified stage's playbook task
    task = services.add_task("Call Anna", customer_id=acme.id, due_at="2026-03-17 09:00+00:00")
    clock.advance(minutes=5)
    services.snooze_task(task.id, days=2)
    services.win_deal(deal.id)  # cancels the playbook task
    assert services.undo().action == "win 'Rollout'"
    assert services.undo().action.startswith("snooze 'Call Anna'")
    with services.db.read() as s:
        assert s.get(Task, task.id).due_at == dt.datetime(2026, 3, 17, 9, tzinfo=dt.UTC)
    assert services.redo().action.startswith("snooze 'Call Anna'")
    assert services.redo().action == "win 'Rollout'"
    with pytest.raises(ValidationError, match="nothing to redo"):
        services.redo()
    for expected in ("win 'Rollout'", "snooze", "add task", "move 'Rollout'"):
        assert services.undo().action.startswith(expected)
    assert state(db) == moved
    services.undo()
    services.undo()
    assert state(db) == start
    with pytest.raises(ValidationError, match="nothing to undo"):
        services.undo()


def test_a_new_action_ends_what_can_be_redone(services):
    c = services.create_customer(name="Acme")
    services.update_customer(c.id, phone="123")
    services.undo()
    services.update_customer(c.id, email="a@b.example")
    with pytest.raises(ValidationError, match="nothing to redo"):
        services.redo()


def test_undo_takes_back_only_this_reps_actions(db, services, clock):
    bob = Services(db, user="bob", clock=clock)
    services.create_customer(name="Acme")
    services.create_customer(name="Initech")
    bob.create_customer(name="Globex")
    assert services.undo().action == "add customer 'Initech'"
    with db.read() as s:
        assert sorted(s.scalars(select(Customer.name))) == ["Acme", "Globex"]
    assert bob.undo().action == "add customer 'Globex'"


def test_undo_refuses_with_the_current_values_when_another_session_changed_the_record(db, services, clock):
    bob = Services(db, user="bob", clock=clock)
    task = services.add_task("Call Anna", due_at="2026-03-17 09:00+00:00")
    services.snooze_task(task.id, days=1)
    bob.snooze_task(task.id, days=3)  # another rep, another session
    before = state(db)
    with pytest.raises(ConflictError, match=r"task 'Call Anna' was changed since .*due 2026-03-2\d"):
        services.undo()
    assert state(db) == before  # nothing taken back
    assert [e.kind for e in entries(db)][-1] == "snooze"  # and no undo recorded


def test_undo_of_a_record_others_now_use_refuses(db, services, clock):
    bob = Services(db, user="bob", clock=clock)
    acme = services.create_customer(name="Acme")
    bob.create_deal("Bob's deal", customer_id=acme.id)
    with pytest.raises(ConflictError, match="customer 'Acme' is now used by 1 deal"):
        services.undo()
    assert services.get(Customer, acme.id).name == "Acme"


def test_undo_of_a_delete_brings_the_record_back_and_an_edit_of_other_fields_is_kept(db, services, clock):
    bob = Services(db, user="bob", clock=clock)
    deal = services.create_deal("Rollout", amount="1000")
    services.update_deal(deal.id, amount="2000")
    bob.update_deal(deal.id, owner="bob")
    services.undo()  # ann's amount edit: bob's owner edit stays
    stored = services.get(Deal, deal.id)
    assert (stored.amount_cents, stored.owner) == (100000, "bob")


def test_undo_history_survives_a_restart(db, clock):
    from crm_tui.db import Database

    first = Services(db, user="ann", clock=clock)
    task = first.add_task("Call Anna", due_at="2026-03-17 09:00+00:00")
    first.complete_task(task.id)
    again = Database.open(db.url.render_as_string(hide_password=False))
    try:
        assert Services(again, user="ann", clock=clock).undo().action == "complete 'Call Anna'"
    finally:
        again.close()
    assert first.get(Task, task.id).done_at is None


def test_playbook_tasks_close_when_the_deal_is_won_and_come_back_when_it_reopens(db, services):
    deal = services.create_deal("Rollout")
    services.move_deal(deal.id, stage(db, "Proposal").id)
    mine = services.add_task("Hand-made follow-up", deal_id=deal.id)

    def open_tasks():
        with db.read() as s:
            return sorted(
                t.subject for t in s.scalars(select(Task).where(Task.deal_id == deal.id, Task.deleted_at.is_(None)))
            )

    assert open_tasks() == ["Hand-made follow-up", "Send the proposal"]
    services.win_deal(deal.id)
    assert open_tasks() == ["Hand-made follow-up"]
    with db.read() as s:
        cancelled = s.scalars(select(Task).where(Task.cancelled_at.is_not(None))).one()
    assert cancelled.subject == "Send the proposal" and cancelled.template_id is not None
    services.reopen_deal(deal.id)
    assert open_tasks() == ["Hand-made follow-up", "Send the proposal"]
    assert mine.id is not None


def test_a_move_from_a_stale_screen_is_refused_not_made_twice(db, services, clock):
    """Two reps press L on the same card, or one wins while the other loses: the second is told."""
    bob = Services(db, user="bob", clock=clock)
    deal = services.create_deal("Rollout")
    seen = services.get(Deal, deal.id).version
    services.move_deal_step(deal.id, 1, expected_version=seen)
    with pytest.raises(ConflictError, match="changed in another session"):
        bob.move_deal_step(deal.id, 1, expected_version=seen)
    now = services.get(Deal, deal.id)
    services.win_deal(deal.id, expected_version=now.version)
    with pytest.raises(ConflictError):
        bob.lose_deal(deal.id, "price", expected_version=now.version)
    with db.read() as s:
        names = [
            s.get(Stage, to).name
            for (to,) in s.execute(
                select(StageChange.to_stage_id).where(StageChange.deal_id == deal.id).order_by(StageChange.id)
            )
        ]
    assert names == ["Lead", "Qualified", "Won"]


def test_twenty_mixed_actions_then_twenty_undos_give_back_the_start_and_redo_the_end(db, services, clock):
    rng = random.Random(7)
    customers = [services.create_customer(name=f"Customer {i}") for i in range(3)]
    deals = [
        services.create_deal(f"Deal {i}", customer_id=customers[i % 3].id, amount=1000 * (i + 1)) for i in range(4)
    ]
    tasks = [services.add_task(f"Task {i}", due_at="2026-03-20 10:00+00:00") for i in range(3)]
    start = state(db)
    done = 0
    while done < 20:
        clock.advance(minutes=7)
        pick = rng.randrange(7)
        try:
            if pick == 0:
                services.move_deal_step(rng.choice(deals).id, rng.choice((1, -1)))
            elif pick == 1:
                services.win_deal(rng.choice(deals).id)
            elif pick == 2:
                services.snooze_task(rng.choice(tasks).id, days=rng.randint(1, 5))
            elif pick == 3:
                services.update_customer(rng.choice(customers).id, phone=str(rng.randint(100, 999)))
            elif pick == 4:
                services.complete_task(rng.choice(tasks).id)
            elif pick == 5:
                services.delete_deal(rng.choice(deals).id)
            else:
                services.update_deal(rng.choice(deals).id, amount=rng.randint(1, 90000))
        except CrmError:  # refused (already won, deleted, last stage...): no action, pick again
            continue
        done += 1
    end = state(db)
    for _ in range(20):
        services.undo()
    assert state(db) == start
    for _ in range(20):
        services.redo()
    assert state(db) == end


def test_undo_entries_are_journaled_too(db, services):
    services.create_customer(name="Acme")
    services.undo()
    services.redo()
    kinds = [(e.kind, e.action, e.undoes) for e in entries(db)]
    first = entries(db)[0].id
    assert kinds == [
        ("create", "add customer 'Acme'", None),
        ("undo", "undo add customer 'Acme'", first),
        ("redo", "redo add customer 'Acme'", first),
    ]
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(JournalChange)).scalar() == 3
