"""One timeline of a deal or a customer: activities, notes, stage changes and orders, newest first."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, update

from crm_tui.models import Note
from crm_tui.queries.timeline import timeline


@pytest.fixture
def story(services, clock):
    """Acme with a deal that moves, a logged call, notes on both, an order through its steps, and
    another customer's deal and note that must never show."""
    acme = services.create_customer(name="Acme")
    other = services.create_customer(name="Other")
    racks = services.create_product("Racks", "120.50")
    clock.advance(minutes=1)
    deal = services.create_deal("Rollout", customer_id=acme.id, amount="5000")
    clock.advance(minutes=1)
    services.add_note("About Acme", customer_id=acme.id)
    clock.advance(minutes=1)
    services.move_deal_step(deal.id, 1)
    clock.advance(minutes=1)
    services.log_activity(kind="call", outcome="reached", note="Spoke to Raj", deal_id=deal.id)
    clock.advance(minutes=1)
    order = services.create_order(acme.id, [(racks.id, 2)], deal_id=deal.id)
    clock.advance(minutes=1)
    services.approve_order(order.id)
    clock.advance(minutes=1)
    theirs = services.create_deal("Theirs", customer_id=other.id)
    services.add_note("Not Acme's", customer_id=other.id, deal_id=theirs.id)
    services.log_activity(kind="email", outcome="sent", customer_id=other.id)
    return acme, deal, order


def test_a_deal_and_its_customer_read_one_timeline_newest_first(db, story):
    acme, deal, order = story
    items = timeline(db, deal_id=deal.id)
    assert [(i.kind, i.what) for i in items] == [
        ("order", f"order {order.number} approved"),
        ("order", f"order {order.number} created"),
        ("activity", "Call: reached"),
        ("note", "Spoke to Raj"),  # the call's note, logged in the same moment: after the call
        ("stage", "Lead → Qualified"),
        ("stage", "created in Lead"),
    ]
    assert (items[2].activity, items[2].outcome, items[2].who) == ("call", "reached", "ann")
    assert items[0].value_cents == 24100 and items[4].deal == "Rollout"
    assert all(a.at >= b.at for a, b in zip(items, items[1:], strict=False))
    assert all(i.at.tzinfo is not None and i.at.utcoffset() == dt.timedelta(0) for i in items)
    # the customer's timeline holds its deal's items and its own note, and nothing of another customer
    whole = timeline(db, customer_id=acme.id)
    assert [i.what for i in whole] == [i.what for i in items[:5]] + ["About Acme", "created in Lead"]
    assert not any("Theirs" in i.deal or "Not Acme" in i.what or "sent" in i.outcome for i in whole)


def test_kinds_filter_reads_only_those_sources(db, story):
    acme, deal, _ = story
    assert [i.kind for i in timeline(db, customer_id=acme.id, kinds=["note"])] == ["note", "note"]
    assert {i.kind for i in timeline(db, deal_id=deal.id, kinds=("stage", "activity"))} == {"stage", "activity"}
    assert timeline(db, deal_id=deal.id, kinds=()) == []
    with pytest.raises(ValueError, match="no timeline kind 'notes'"):
        timeline(db, deal_id=deal.id, kinds=["notes"])
    with pytest.raises(ValueError, match="one deal or one customer"):
        timeline(db)


def test_deleted_records_and_a_deleted_deals_items_are_hidden(db, services, story, clock):
    acme, deal, _ = story
    task = services.add_task("Send the quote", customer_id=acme.id)
    services.complete_task(task.id)
    assert "Send the quote" in [i.what for i in timeline(db, customer_id=acme.id)]
    services.delete_task(task.id)
    with db.write({"note"}, journal=False) as session:
        session.execute(update(Note).where(Note.body == "About Acme").values(deleted_at=clock.now))
    whats = [i.what for i in timeline(db, customer_id=acme.id)]
    assert "Send the quote" not in whats and "About Acme" not in whats
    services.delete_deal(deal.id)
    # the deal's stage moves, call and note go with it; its order stays (an order is the customer's)
    assert {i.kind for i in timeline(db, customer_id=acme.id)} == {"order"}


def test_the_limit_keeps_the_newest_of_every_source(db, services, story, clock):
    acme, deal, _ = story
    start = clock.now
    with db.write({"note"}, journal=False) as session:
        session.execute(
            insert(Note),
            [
                {
                    "customer_id": acme.id,
                    "body": f"note {n}",
                    "author": "bulk",
                    "created_at": start + dt.timedelta(hours=n),
                }
                for n in range(1, 301)
            ],
        )
    items = timeline(db, customer_id=acme.id, limit=5)
    assert [i.what for i in items] == ["note 300", "note 299", "note 298", "note 297", "note 296"]
    older = timeline(db, customer_id=acme.id, limit=400)
    assert len(older) == 300 + 7 and older[300].kind == "order"  # the story's 7 items after the 300 notes
    assert timeline(db, customer_id=acme.id, limit=0) == []


def test_hostile_text_is_kept_as_data(db, services, clock):
    markup = "[red]boom[/red] [link=https://x]y[/link]"
    who = services.create_customer(name=markup)
    deal = services.create_deal(markup, customer_id=who.id)
    hostile = markup + " \x1b[2J\u202e\nsecond line"  # the services refuse escapes; an old database may hold them
    with db.write({"note"}, journal=False) as session:
        session.execute(insert(Note).values(deal_id=deal.id, body=hostile, author=markup, created_at=clock.now))
    [item] = timeline(db, deal_id=deal.id, kinds=["note"])
    assert (item.detail, item.what, item.who, item.deal) == (hostile, markup + " \x1b[2J\u202e", markup, markup)
