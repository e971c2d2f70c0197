"""Orders in the core: a draft's lines edited through the services (journaled, undoable, refused
once the order is not a draft), and the Orders list's pages, positions and summary."""

from __future__ import annotations

import pytest

from crm_tui.errors import ConflictError, ValidationError
from crm_tui.metrics import Filters
from crm_tui.queries.orders import (
    OrderFilter,
    count_orders,
    deal_draft_lines,
    fetch_orders,
    first_orders,
    load_order,
    order_position,
    order_summary,
)


@pytest.fixture
def shop(services):
    acme = services.create_customer(name="Acme")
    racks = services.create_product("Racks", "120.50")
    bolts = services.create_product("Bolts", "0.25")
    return acme, racks, bolts


def lines(db, order_id):
    return [(x.product, x.quantity, x.unit_price_cents) for x in load_order(db, order_id).lines]


def test_a_drafts_lines_are_added_changed_and_removed_each_undoable(db, services, shop):
    acme, racks, bolts = shop
    order = services.create_order(acme.id, [(racks.id, 1)])
    line = services.add_order_line(order.id, bolts.id, 100)
    assert lines(db, order.id) == [("Racks", 1, 12050), ("Bolts", 100, 25)]  # the product's price
    services.change_order_line(line.id, quantity=40, unit_price="0.20")
    assert lines(db, order.id)[1] == ("Bolts", 40, 20)
    services.remove_order_line(line.id)
    assert lines(db, order.id) == [("Racks", 1, 12050)]
    assert services.undo().action == f"remove a line from order {order.number}"
    assert lines(db, order.id)[1] == ("Bolts", 40, 20)
    services.undo()
    assert lines(db, order.id)[1] == ("Bolts", 100, 25)
    services.remove_order_line(line.id)
    with pytest.raises(ValidationError, match="at least one line"):
        services.remove_order_line(load_order(db, order.id).lines[0].id)  # the last one stays
    with pytest.raises(ValidationError, match="at least one line"):
        services.set_order_lines(order.id, [])


def test_set_order_lines_is_one_change_and_one_undo(db, services, shop):
    acme, racks, bolts = shop
    order = services.create_order(acme.id, [(racks.id, 1), (bolts.id, 10)])
    services.set_order_lines(order.id, [(bolts.id, 3, "0.30"), (racks.id, 2), (racks.id, 5, "100")])
    assert lines(db, order.id) == [("Bolts", 3, 30), ("Racks", 2, 12050), ("Racks", 5, 10000)]
    services.set_order_lines(order.id, [(racks.id, 7)])
    assert lines(db, order.id) == [("Racks", 7, 12050)]
    assert services.undo().action == f"edit order {order.number} lines"
    assert lines(db, order.id) == [("Bolts", 3, 30), ("Racks", 2, 12050), ("Racks", 5, 10000)]


def test_only_a_drafts_lines_change_with_one_clear_message(db, services, shop):
    acme, racks, bolts = shop
    order = services.create_order(acme.id, [(racks.id, 1)])
    [line] = load_order(db, order.id).lines
    services.approve_order(order.id)
    for call in (
        lambda: services.add_order_line(order.id, bolts.id, 1),
        lambda: services.change_order_line(line.id, quantity=2),
        lambda: services.remove_order_line(line.id),
        lambda: services.set_order_lines(order.id, [(bolts.id, 1)]),
    ):
        with pytest.raises(ValidationError, match=f"order {order.number} is approved: only a draft order's lines"):
            call()
    assert lines(db, order.id) == [("Racks", 1, 12050)]


def test_a_stale_form_is_refused_not_applied(db, services, shop):
    acme, racks, bolts = shop
    order = services.create_order(acme.id, [(racks.id, 1)])
    services.add_order_line(order.id, bolts.id, 1)  # another session's edit since the form was opened
    with pytest.raises(ConflictError):
        services.set_order_lines(order.id, [(racks.id, 9)], expected_version=order.version)
    assert len(lines(db, order.id)) == 2


def test_the_list_pages_by_keyset_and_by_offset_alike_newest_first(db, services, shop):
    acme, racks, bolts = shop
    made = [services.create_order(acme.id, [(racks.id, i + 1), (bolts.id, 4)]) for i in range(7)]
    for order in made[::3]:
        services.approve_order(order.id)
    everything = fetch_orders(db, limit=100)
    assert [r.id for r in everything] == [o.id for o in reversed(made)]
    assert everything[-1].lines == 2 and everything[-1].total_cents == 12050 + 100
    by_offset = fetch_orders(db, at=3, limit=3)
    by_keyset = fetch_orders(db, after=everything[2].id, limit=3)
    assert by_offset == by_keyset == everything[3:6]
    approved = OrderFilter(status="approved")
    assert count_orders(db, approved) == 3 and [r.status for r in fetch_orders(db, approved)] == ["approved"] * 3
    assert first_orders(db, approved, 2) == (fetch_orders(db, approved, limit=2), 3)
    assert order_position(db, approved, made[0].id) == 2
    assert order_position(db, approved, made[1].id) is None
    assert count_orders(db, OrderFilter(owner="bob")) == 0


def test_the_summary_per_status_agrees_with_the_reports_O_and_W(db, services, shop, clock):
    from crm_tui.metrics import report_figures

    acme, racks, bolts = shop
    gone = services.create_customer(name="Gone")
    orders = [services.create_order(acme.id, [(racks.id, 1), (bolts.id, i)]) for i in range(1, 5)]
    services.create_order(gone.id, [(racks.id, 10)])
    services.delete_customer(gone.id)  # its orders count nowhere
    services.approve_order(orders[0].id)
    services.approve_order(orders[1].id)
    services.fulfil_order(orders[1].id)
    services.cancel_order(orders[2].id)
    summary = order_summary(db)
    assert {s: (f.count, f.total_cents) for s, f in summary.by_status.items()} == {
        "draft": (1, 12050 + 100),
        "approved": (1, 12050 + 25),
        "fulfilled": (1, 12050 + 50),
        "cancelled": (1, 12050 + 75),
    }
    figures = report_figures(db, Filters(), now=clock())
    live = [summary.of(s) for s in ("draft", "approved", "fulfilled")]
    assert figures.orders.count == sum(f.count for f in live)
    assert figures.orders.value_cents == sum(f.total_cents for f in live)


def test_a_deals_product_lines_start_its_order_form(db, services, shop):
    acme, racks, bolts = shop
    deal = services.create_deal("Fit-out", customer_id=acme.id, products=[(racks.id, 2), (bolts.id, 50, "0.2")])
    assert [(x.product, x.quantity, x.unit_price_cents) for x in deal_draft_lines(db, deal.id)] == [
        ("Racks", 2, 12050),
        ("Bolts", 50, 20),
    ]
