"""The customer list and detail at 80x24 and 120x40, frozen clock, fixed data."""

from __future__ import annotations

import datetime as dt

import pytest

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def db(db_path, new_sqlite):
    """Snapshots are of the screen, not the engine: one SQLite file."""
    from crm_tui.db import Database

    database = Database.open(str(new_sqlite(db_path)))
    yield database
    database.close()


@pytest.fixture
def book(services, clock):
    rows = [
        ("Acme Corp", "customer", "ann", "sales@acme.example", "+1 555 0100", "Hardware", "vip, hardware"),
        ("Beta Labs", "lead", "bob", "hello@beta.example", "+44 20 7946 0000", "Biotech", "lab"),
        ("[red]Gamma[/red] GmbH", "prospect", "ann", "info@gamma.example", "+49 30 1234", "Hardware", ""),
        ("Delta & Sons", "churned", "cat", "", "555-0199", "Retail", "vip"),
        ("Epsilon Bank", "customer", "bob", "eps@epsilon.example", "", "Finance", "bank, key account"),
    ]
    ids = []
    for name, status, owner, email, phone, industry, tags in rows:
        clock.advance(hours=3)
        ids.append(
            services.create_customer(
                name=name, status=status, owner=owner, email=email, phone=phone, industry=industry, tags=tags
            ).id
        )
    for i in range(30):
        services.create_customer(name=f"Zulu Trading {i:02d}", owner="cat", industry="Logistics")
    acme = ids[0]
    services.create_contact(acme, name="Jane Roe", title="CTO", email="jane@acme.example", phone="+1 555 0101")
    services.create_contact(acme, name="Raj Patel", title="Buyer", email="raj@acme.example")
    services.create_deal("Rollout 2026", customer_id=acme, amount="48000")
    won = services.create_deal("Pilot licence", customer_id=acme, amount="4500")
    services.win_deal(won.id)
    product = services.create_product("Widget", "12.50")
    services.create_order(acme, [(product.id, 8)])
    clock.advance(days=1)
    services.add_note("Kick-off call: wants a rollout plan by April.", customer_id=acme)
    clock.advance(hours=2)
    services.add_note("Sent the proposal [v2].", customer_id=acme)
    services.add_task(
        "Call Jane about the proposal", kind="call", customer_id=acme, due_at=clock.now + dt.timedelta(days=2)
    )
    done = services.add_task("Send brochure", kind="email", customer_id=acme)
    services.complete_task(done.id)
    return ids


def make_app(db, clock):
    from crm_tui.tui.app import create_app

    return create_app(db=db, clock=clock, user="ann", poll=False)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_customer_list(snap_compare, settled, db, clock, book, size):
    assert snap_compare(make_app(db, clock), terminal_size=size, run_before=settled())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_customer_detail(snap_compare, settled, db, clock, book, size):
    assert snap_compare(make_app(db, clock), terminal_size=size, run_before=settled("enter"))


def test_customer_form_at_80x24(snap_compare, settled, db, clock, book):
    open_form = settled("e")

    async def run_before(pilot) -> None:
        await open_form(pilot)
        for field in pilot.app.screen.query("Input"):
            field.cursor_blink = False  # a blinking cursor would make the picture random
        await pilot.pause()

    assert snap_compare(make_app(db, clock), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_customer_notes_picker(snap_compare, settled, db, clock, book, size):
    """``N`` on the customer page: its notes, newest first (a note with markup shown as typed)."""
    assert snap_compare(make_app(db, clock), terminal_size=size, run_before=settled("enter", "N"))
