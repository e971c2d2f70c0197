"""The deal page with its product lines (the amount typed by hand, so the page says so) and the
deal's lines form, at 80x24 and 120x40 — frozen clock, fixed data, a product name with markup."""

from __future__ import annotations

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
def deal(services):
    acme = services.create_customer(name="[red]ACME[/red] Corp", owner="ann")
    racks = services.create_product("Warehouse racks", "1250.50")
    labels = services.create_product("[b]Label[/b] printer", "429")
    deal = services.create_deal(
        "Warehouse fit-out", customer_id=acme.id, products=[(racks.id, 4), (labels.id, 2, "399.00")]
    )
    return services.update_deal(deal.id, amount="6000")  # by hand: the page says the lines' total


def make_app(db, clock, deal_id):
    from crm_tui.tui.app import create_app

    app = create_app(db=db, clock=clock, user="ann", poll=False, initial_mode="pipeline")

    async def open_deal(pilot) -> None:
        pilot.app.open_deal(deal_id)

    return app, open_deal


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_deal_page_with_lines(snap_compare, settled, db, clock, deal, size):
    app, open_deal = make_app(db, clock, deal.id)
    then = settled()

    async def run_before(pilot) -> None:
        await then(pilot)
        await open_deal(pilot)
        await then(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_deal_lines_form(snap_compare, settled, db, clock, deal, size):
    app, open_deal = make_app(db, clock, deal.id)
    then, lines = settled(), settled("l")

    async def run_before(pilot) -> None:
        await then(pilot)
        await open_deal(pilot)
        await lines(pilot)
        for widget in pilot.app.screen.query("Input"):
            widget.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
