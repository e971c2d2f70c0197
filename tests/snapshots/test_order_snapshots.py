"""The Orders list and the order form at 80x24 and 120x40, frozen clock, fixed data: orders in
every status, a customer name with markup, a draft edited with every error at once."""

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
def orders(services, clock):
    names = ["[red]ACME[/red] Corp", "Globex", "株式会社テスト商事", "Initech"]
    customers = [services.create_customer(name=n, owner=("ann", "bob")[i % 2]) for i, n in enumerate(names)]
    racks = services.create_product("Warehouse racks", "1250.50")
    bolts = services.create_product("Bolts (box of 100)", "4.99")
    labels = services.create_product("[b]Label[/b] printer", "429")
    plan = [
        (0, [(racks.id, 4), (bolts.id, 20)], "fulfilled"),
        (1, [(labels.id, 2)], "approved"),
        (2, [(racks.id, 12, "1199.99")], "cancelled"),
        (3, [(bolts.id, 300), (labels.id, 1), (racks.id, 1)], "approved"),
        (0, [(labels.id, 3)], "draft"),
        (1, [(racks.id, 2), (bolts.id, 10)], "draft"),
    ]
    made = []
    for who, lines, status in plan:
        clock.advance(hours=5)
        order = services.create_order(customers[who].id, lines)
        if status in ("approved", "fulfilled"):
            services.approve_order(order.id)
        if status == "fulfilled":
            services.fulfil_order(order.id)
        if status == "cancelled":
            services.cancel_order(order.id)
        made.append(order)
    return made


def make_app(db, clock, mode):
    from crm_tui.tui.app import create_app

    return create_app(db=db, clock=clock, user="ann", poll=False, initial_mode=mode)


async def _still(pilot) -> None:
    """No blinking cursor (it would make the picture random); let everything settle."""
    for widget in pilot.app.screen.query("Input"):
        widget.cursor_blink = False
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_orders_list(snap_compare, settled, db, clock, orders, size):
    assert snap_compare(make_app(db, clock, "orders"), terminal_size=size, run_before=settled())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_order_form_with_every_error(snap_compare, settled, db, clock, orders, size):
    """The newest draft's lines in the form, a line added, and every problem shown at once."""
    open_form = settled("e")

    async def run_before(pilot) -> None:
        await open_form(pilot)
        form = pilot.app.screen
        form.query_one("#field-l1_quantity").value = "0"
        await pilot.press("ctrl+n")
        await _still(pilot)
        form.query_one("#field-l3_product").value = "Nails"
        form.query_one("#field-l3_price").value = "1.999"
        await pilot.press("ctrl+s")
        await _still(pilot)

    assert snap_compare(make_app(db, clock, "orders"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_order_page(snap_compare, settled, db, clock, orders, size):
    """An approved order with three lines, opened with enter from the list."""
    assert snap_compare(
        make_app(db, clock, "orders"),
        terminal_size=size,
        run_before=settled("s", "down", "down", "enter", "enter"),
    )
