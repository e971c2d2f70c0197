"""Task queue grouping: Overdue before now, Today = rest of the LOCAL day, Done = last 14 days."""

from __future__ import annotations

import datetime as dt

from crm_tui.queries.tasks import day_count, load_tasks, local_day_end, relative_due

UTC = dt.UTC
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def groups(queue):
    return {g: [r.subject for r in rows] for g, rows in queue.groups.items()}


def test_today_is_the_local_date_not_the_utc_date(db, services, clock):
    # now = 2026-03-16 14:30 UTC = 22:30 in UTC+8; the local day ends at 16:00 UTC.
    now = clock.now
    assert local_day_end(now, SHANGHAI) == dt.datetime(2026, 3, 16, 16, 0, tzinfo=UTC)
    services.add_task("past hour", due_at=now - dt.timedelta(minutes=1))
    services.add_task("before local midnight", due_at=dt.datetime(2026, 3, 16, 15, 59, tzinfo=UTC))
    services.add_task("at local midnight", due_at=dt.datetime(2026, 3, 16, 16, 0, tzinfo=UTC))
    services.add_task("no due")
    g = groups(load_tasks(db, now=now, tz=SHANGHAI))
    assert g["Overdue"] == ["past hour"]
    assert g["Today"] == ["before local midnight"]
    assert g["Upcoming"] == ["at local midnight", "no due"]
    # Same rows in UTC: the local day runs to 2026-03-17 00:00 UTC.
    g = groups(load_tasks(db, now=now, tz=UTC))
    assert g["Today"] == ["before local midnight", "at local midnight"]


def test_done_recent_cutoff_owner_filter_and_deleted(db, services, clock):
    old = services.add_task("done long ago", owner="ann")
    services.complete_task(old.id)
    clock.advance(days=14, seconds=1)
    recent = services.add_task("done just now", owner="bob")
    services.complete_task(recent.id)
    gone = services.add_task("deleted")
    services.delete_task(gone.id)
    cust = services.create_customer(name="X")
    services.add_task("of deleted customer", customer_id=cust.id)
    services.delete_customer(cust.id)
    q = load_tasks(db, now=clock.now, tz=UTC)
    assert groups(q)["Done"] == ["done just now"]
    assert sum(q.counts().values()) == 1
    assert load_tasks(db, now=clock.now, tz=UTC, owner="ann").counts()["Done"] == 0


def test_rows_carry_customer_and_deal(db, services, clock):
    c = services.create_customer(name="[b]Acme[/b]")
    d = services.create_deal("deal", customer_id=c.id)
    services.add_task("call", kind="call", deal_id=d.id, priority=3, due_at=clock.now + dt.timedelta(days=3))
    [row] = load_tasks(db, now=clock.now, tz=UTC).groups["Upcoming"]
    assert (row.customer, row.deal, row.kind, row.priority) == ("[b]Acme[/b]", "deal", "call", 3)


def test_relative_due():
    now = dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert relative_due(now - dt.timedelta(days=2, hours=3), now) == "2d overdue"
    assert relative_due(now + dt.timedelta(hours=5), now) == "in 5h"
    assert relative_due(None, now) == "no due date"


def test_the_reps_day_lists_their_deals_without_a_next_step_then_their_rotting_deals(db, services, clock):
    acme = services.create_customer(name="Acme", owner="ann")
    quiet = services.create_deal("Quiet deal", customer_id=acme.id, owner="ann")
    busy = services.create_deal("Busy deal", customer_id=acme.id, owner="ann")
    services.add_task("call about busy", deal_id=busy.id, owner="ann", due_at=clock.now + dt.timedelta(days=30))
    services.create_deal("Bob's deal", customer_id=acme.id, owner="bob")
    won = services.create_deal("Won deal", customer_id=acme.id, owner="ann")
    services.win_deal(won.id)
    services.add_task("overdue call", owner="ann", due_at=clock.now - dt.timedelta(hours=1))
    services.add_task("tonight", owner="ann", due_at=clock.now + dt.timedelta(hours=2))
    services.add_task("bob's today", owner="bob", due_at=clock.now + dt.timedelta(hours=2))

    day = load_tasks(db, now=clock.now, tz=UTC, owner="ann", deals=True)
    assert [r.subject for r in day.groups["No next step"]] == ["Quiet deal"]
    assert day.groups["Rotting"] == []
    (row,) = day.groups["No next step"]
    assert row.deal_item and row.id == row.deal_id == quiet.id and row.customer == "Acme"
    assert day_count(db, "ann", now=clock.now, tz=UTC) == 2  # overdue + due today, not later ones
    assert day_count(db, "bob", now=clock.now, tz=UTC) == 1
    # everyone's queue, or a queue asked without deals, lists tasks only
    assert "No next step" not in load_tasks(db, now=clock.now, tz=UTC).groups
    assert "Rotting" not in load_tasks(db, now=clock.now, tz=UTC, owner="ann").groups

    later = clock.now + dt.timedelta(days=20)  # past the Lead stage's rot threshold (14 days)
    day = load_tasks(db, now=later, tz=UTC, owner="ann", deals=True)
    assert [r.subject for r in day.groups["No next step"]] == ["Quiet deal"]  # no next step comes first
    assert [(r.subject, r.days_in_stage) for r in day.groups["Rotting"]] == [("Busy deal", 20)]
