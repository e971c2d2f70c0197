"""Orders with real keys: made from a won deal, lines edited, approved, fulfilled, cancelled
(asking first), undone with ctrl+z — every step checked in the database and on screen."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.models import Order, OrderLine

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only

KEYS_ONLY = pytest.mark.keys_only


def order_of(db, order_id):
    with db.read() as s:
        order = s.get(Order, order_id)
        lines = list(s.exec(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)).scalars())
        return order, [(line.product_id, line.quantity, line.unit_price_cents) for line in lines]


def orders_count(db):
    with db.read() as s:
        return s.execute(select(func.count()).select_from(Order)).scalar()


def table_text(app, table_id="#orders-table"):
    table = app.screen.query_one(table_id)
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


def shown(app, selector):
    """What a widget of the screen shows, as plain text."""
    from textual.geometry import Region

    widget = app.screen.query_one(selector)
    return "\n".join(line.text for line in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)))


def key_bar(app):
    """The keys the bar offers now (enabled ones only; none while the screen is being built)."""
    bars = app.screen.query("KeyBar")
    return {d for _k, _s, d, on, _t in bars.first().keys() if on} if bars else set()


@pytest.fixture
def sale(services):
    """A won deal with two product lines, a third product in the catalogue, and a draft order."""
    acme = services.create_customer(name="[red]ACME[/red] Corp", owner="ann")
    racks = services.create_product("Racks", "120.50")
    bolts = services.create_product("Bolts", "0.25")
    services.create_product("Cables", "9.99")
    deal = services.create_deal(
        "Warehouse fit-out", customer_id=acme.id, products=[(racks.id, 4), (bolts.id, 200, "0.20")]
    )
    services.win_deal(deal.id)
    return {"customer": acme, "deal": deal, "racks": racks, "bolts": bolts}


@KEYS_ONLY
async def test_an_order_from_a_won_deal_edited_approved_fulfilled_and_undone_with_keys_only(
    make_app, settle, until, opened, db, sale, notifications
):
    app = make_app("pipeline")
    seen = notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_deal(sale["deal"].id)
        await until(pilot, lambda: "Order" in key_bar(app), what="the deal page offering an order")
        await pilot.press("o")
        form = await opened(pilot, "OrderFormScreen")
        # the deal's lines are copied: racks at their price, bolts at the deal's price
        assert form.values() == {
            "l1_product": "Racks",
            "l1_quantity": "4",
            "l1_price": "120.50",
            "l2_product": "Bolts",
            "l2_quantity": "200",
            "l2_price": "0.20",
        }
        assert "2 lines · total USD 522.00" in shown(app, "#order-total")
        # change the racks' quantity, add a line of cables picked by name (its price filled in)
        form.set_focus(form.field_widget("l1_quantity"))
        await pilot.press("ctrl+a", "ctrl+k", "5", "ctrl+n")
        await until(pilot, lambda: form.focused is not None and form.focused.id == "field-l3_product")
        await pilot.press(*"Cables", "enter", "ctrl+a", "ctrl+k", "3")
        assert form.values()["l3_price"] == "9.99"
        assert "3 lines · total USD 672.47" in shown(app, "#order-total")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "OrderDetailScreen", what="the new order's page")
        await settle(app, pilot)
        assert orders_count(db) == 1
        order, lines = order_of(db, app.screen.order_id)
        assert order.status == "draft" and order.deal_id == sale["deal"].id
        assert lines == [(sale["racks"].id, 5, 12050), (sale["bolts"].id, 200, 20), (lines[2][0], 3, 999)]
        assert seen.said(f"Made order {order.number}")
        head = shown(app, "#order-head")
        assert "[red]ACME[/red] Corp" in head and "672.47" in head and "draft" in head
        # keys that do not apply to a draft are hidden and refused
        assert {"Approve", "Cancel", "Edit lines"} <= key_bar(app) and "Fulfil" not in key_bar(app)
        await pilot.press("f")
        await settle(app, pilot)
        assert order_of(db, order.id)[0].status == "draft"
        # edit a line on the order's page: remove the bolts
        await pilot.press("e")
        form = await opened(pilot, "OrderFormScreen")
        form.set_focus(form.field_widget("l2_product"))
        await pilot.press("ctrl+r", "ctrl+s")
        await until(pilot, lambda: len(order_of(db, order.id)[1]) == 2, what="the line removed")
        await until(pilot, lambda: "Lines (2)" in shown(app, "#order-lines"))
        # approve, then fulfil
        await pilot.press("a")
        await until(pilot, lambda: order_of(db, order.id)[0].status == "approved", what="the approval")
        await until(pilot, lambda: "Fulfil" in key_bar(app), what="fulfil offered")
        assert "Approve" not in key_bar(app) and "Edit lines" not in key_bar(app)
        await pilot.press("f")
        await until(pilot, lambda: order_of(db, order.id)[0].status == "fulfilled", what="the fulfilment")
        await until(pilot, lambda: "fulfilled" in shown(app, "#order-head"))
        assert not {"Approve", "Fulfil", "Cancel", "Edit lines"} & key_bar(app)
        # ctrl+z takes the fulfilment back, then the approval
        await pilot.press("ctrl+z")
        await until(pilot, lambda: order_of(db, order.id)[0].status == "approved", what="the undo")
        assert seen.said(f"Undo: fulfil order {order.number}")
        await pilot.press("ctrl+z")
        await until(pilot, lambda: order_of(db, order.id)[0].status == "draft", what="the second undo")
        await until(pilot, lambda: "Edit lines" in key_bar(app), what="the draft's keys back")


@KEYS_ONLY
async def test_the_orders_list_cancel_asks_and_the_status_filter(make_app, settle, until, opened, db, services, sale):
    racks = sale["racks"]
    first = services.create_order(sale["customer"].id, [(racks.id, 1)])
    second = services.create_order(sale["customer"].id, [(racks.id, 2)])
    services.approve_order(second.id)
    app = make_app("customers")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await until(pilot, lambda: type(app.screen).__name__ == "OrdersScreen" and app.screen.current() is not None)
        text = table_text(app)
        assert second.number in text and first.number in text and "[red]ACME[/red] Corp" in text
        assert app.screen.current().id == second.id  # newest first
        await until(pilot, lambda: app.screen.summary is not None, what="the summary")
        statuses = shown(app, "#orders-statuses")
        assert "draft 1" in statuses and "approved 1" in statuses and "241.00" in statuses
        # an approved order: fulfil and cancel apply, approve does not
        assert {"Fulfil", "Cancel"} <= key_bar(app) and "Approve" not in key_bar(app)
        await pilot.press("a")
        await settle(app, pilot)
        assert order_of(db, second.id)[0].status == "approved"
        # cancel asks; "n" keeps the order
        await pilot.press("x")
        await opened(pilot, "ConfirmScreen")
        await pilot.press("n")
        await settle(app, pilot)
        assert order_of(db, second.id)[0].status == "approved"
        await pilot.press("x")
        await opened(pilot, "ConfirmScreen")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: order_of(db, second.id)[0].status == "cancelled", what="the cancel")
        await until(pilot, lambda: "cancelled" in table_text(app), what="the list following")
        # the status picker shows the drafts only
        await pilot.press("s")
        await opened(pilot, "PickScreen")
        await pilot.press("down", "enter")  # every status → draft
        await until(pilot, lambda: app.screen.order_filter.status == "draft" and app.screen._total == 1)
        assert first.number in table_text(app) and second.number not in table_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen._total == 2, what="every order again")


@KEYS_ONLY
async def test_reports_O_and_W_follow_each_order_change(make_app, settle, until, db, services, sale):
    order = services.create_order(sale["customer"].id, [(sale["racks"].id, 2)])
    app = make_app("reports")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, rounds=5)

        def tiles():
            return app.screen.query_one("#kpi-O").value, app.screen.query_one("#kpi-W").value

        await until(pilot, lambda: tiles() == ("1", "241.00"), what=lambda: f"O and W, showing {tiles()}")
        app.services.set_order_lines(order.id, [(sale["racks"].id, 3), (sale["bolts"].id, 4)])
        await until(pilot, lambda: tiles() == ("1", "362.50"), what=lambda: f"W after the edit, showing {tiles()}")
        app.services.cancel_order(order.id)
        await until(pilot, lambda: tiles() == ("0", "0.00"), what=lambda: f"O and W after the cancel: {tiles()}")


@KEYS_ONLY
async def test_a_new_order_from_the_customer_page_starts_with_one_empty_line_and_shows_every_error(
    make_app, settle, until, opened, db, sale
):
    app = make_app("customers")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_customer(sale["customer"].id)
        await settle(app, pilot)
        await pilot.press("o")
        form = await opened(pilot, "OrderFormScreen")
        assert form.values() == {"l1_product": "", "l1_quantity": "1", "l1_price": ""}
        await pilot.press(*"Nails", "tab", "ctrl+a", "ctrl+k", "0", "tab", *"12.345", "ctrl+s")
        await until(pilot, lambda: len(form.errors) == 3, what=lambda: f"every error at once, showing {form.errors}")
        assert "no product named 'Nails'" in form.errors["l1_product"]
        assert "quantity" in form.errors["l1_quantity"] and "two decimals" in form.errors["l1_price"]
        assert orders_count(db) == 0
        # pick the product from the catalogue instead
        form.set_focus(form.field_widget("l1_product"))
        await pilot.press("ctrl+o")
        await opened(pilot, "PickScreen")
        await pilot.press("enter")  # the first product by name: Bolts
        await until(pilot, lambda: app.screen is form and form.values()["l1_product"] == "Bolts")
        await pilot.press("ctrl+a", "ctrl+k", "1", "0", "tab", "ctrl+a", "ctrl+k", "ctrl+s")
        await until(
            pilot, lambda: orders_count(db) == 1, what=lambda: f"the order saved: {form.values()} {form.errors}"
        )
        await until(pilot, lambda: type(app.screen).__name__ == "OrderDetailScreen")
        order, lines = order_of(db, app.screen.order_id)
        assert lines == [(sale["bolts"].id, 10, 25)] and order.deal_id is None  # blank price: the product's
        # escape back to the customer's page: the order is listed, and enter opens it
        await pilot.press("escape")
        await until(pilot, lambda: order.number in table_text(app, "#detail-order-table"), what="the customer's orders")
        app.screen.query_one("#detail-order-table").focus()
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "OrderDetailScreen")
        assert app.screen.order_id == order.id


@KEYS_ONLY
async def test_escape_on_a_changed_order_form_asks(make_app, settle, until, opened, db, sale):
    app = make_app("customers")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_deal(sale["deal"].id)
        await until(pilot, lambda: "Order" in key_bar(app))
        await pilot.press("o")
        form = await opened(pilot, "OrderFormScreen")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: form.dirty, what="the form to know it changed")
        await pilot.press("escape")
        await opened(pilot, "ConfirmScreen")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: type(app.screen).__name__ == "DealDetailScreen")
        assert orders_count(db) == 0


@KEYS_ONLY
async def test_the_palette_reaches_every_order_action_by_name(make_app, settle, until, palette, services, sale):
    services.create_order(sale["customer"].id, [(sale["racks"].id, 1)])
    app = make_app("orders")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await until(pilot, lambda: app.screen.current() is not None)
        for name in ("Approve order", "Cancel order", "Edit order lines", "Go to Orders"):
            await palette(pilot, name, first=False)
            await pilot.press("escape")
            await settle(app, pilot)
        app.open_deal(sale["deal"].id)
        await until(pilot, lambda: "Order" in key_bar(app))
        await palette(pilot, "New order", first=False)
