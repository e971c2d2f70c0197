"""The product catalogue: codes, list prices, retiring a product without touching what already has it."""

from __future__ import annotations

import pytest

from crm_tui.errors import ValidationError
from crm_tui.queries.orders import load_order, product_choices
from crm_tui.queries.products import catalogue


def test_products_are_added_with_a_code_edited_and_counted_where_they_are_used(db, services):
    acme = services.create_customer(name="Acme")
    seat = services.create_product("Seat", "480", code="CRM-SEAT")
    kit = services.create_product("Kit", "99.90")
    with pytest.raises(ValidationError, match="the code CRM-SEAT is already 'Seat's"):
        services.create_product("Seat licence", "1", code="crm-seat")
    with pytest.raises(ValidationError, match="a product named 'seat' already exists"):
        services.update_product(kit.id, name="seat")
    deal = services.create_deal("Rollout", customer_id=acme.id, products=[(seat.id, 10)])
    services.create_deal("Pilot", customer_id=acme.id, products=[(seat.id, 2), (kit.id, 1)])
    services.create_order(acme.id, [(seat.id, 10)], deal_id=deal.id)
    services.update_product(seat.id, unit_price="500", code="SEAT-1")
    rows = {r.name: r for r in catalogue(db)}
    assert (rows["Seat"].code, rows["Seat"].unit_price_cents, rows["Seat"].deals, rows["Seat"].orders) == (
        "SEAT-1", 50_000, 2, 1,
    )  # fmt: skip
    assert (rows["Kit"].code, rows["Kit"].deals, rows["Kit"].orders) == ("", 1, 0)
    assert services.next_undo() == "edit product 'Seat' (code, unit price)"


def test_a_retired_product_is_no_longer_offered_but_what_has_it_keeps_it(db, services):
    acme = services.create_customer(name="Acme")
    seat = services.create_product("Seat", "480")
    kit = services.create_product("Kit", "99.90")
    order = services.create_order(acme.id, [(kit.id, 3)])
    services.retire_product(kit.id)
    assert [p.name for p in product_choices(db)] == ["Seat"]
    assert [r.name for r in catalogue(db)] == ["Seat"]
    assert [(r.name, r.retired) for r in catalogue(db, retired=True)] == [("Seat", False), ("Kit", True)]
    # the draft that has it keeps it, and its form still offers it for that line
    assert [x.product for x in load_order(db, order.id).lines] == ["Kit"]
    assert [p.name for p in product_choices(db, keep_names={"Kit"})] == ["Kit", "Seat"]
    with pytest.raises(ValidationError, match="already retired"):
        services.retire_product(kit.id)
    services.undo()
    assert [p.name for p in product_choices(db)] == ["Kit", "Seat"]
    services.retire_product(seat.id)
    services.restore_product(seat.id)
    assert [p.name for p in product_choices(db)] == ["Kit", "Seat"]
