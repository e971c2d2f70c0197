"""The product catalogue with keys: P on Orders opens it, n adds a product with its code and list price,
d retires one after asking (the order form no longer offers it), r shows it again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_tui.models import Product

pytestmark = pytest.mark.keys_only


def product(db, name):
    with db.read() as s:
        return s.execute(select(Product).where(Product.name == name)).scalar_one_or_none()


async def test_products_are_added_and_retired_with_keys(make_app, until, opened, db, services):
    services.create_product("[b]Racks[/b]", "120.50", code="RK-1")
    app = make_app("orders")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "OrdersScreen" and app.db is not None, what="Orders")
        await pilot.press("P")
        screen = await opened(pilot, "ProductsScreen")
        await until(pilot, lambda: len(screen.rows) == 1, what="the catalogue")
        table = screen.query_one("#products-table")
        await pilot.pause()  # the table sizes its columns on the next refresh
        first = "".join(seg.text for seg in table.render_line(1))
        assert "RK-1" in first and "[b]Racks[/b]" in first and "120.50" in first  # literal, not markup
        await pilot.press("n")
        await opened(pilot, "FormScreen")
        await pilot.press(*"Bolts", "enter", *"BLT-8", "enter", *"0.25", "enter")
        await until(pilot, lambda: product(db, "Bolts") is not None, what="the new product")
        bolts = product(db, "Bolts")
        assert (bolts.code, bolts.unit_price_cents, bolts.archived_at) == ("BLT-8", 25, None)
        await until(pilot, lambda: len(screen.rows) == 2, what="the new row")
        assert [r.name for r in screen.rows] == ["Bolts", "[b]Racks[/b]"]
        await pilot.press("d")  # the highlighted row: Bolts, the first by name
        confirm = await opened(pilot, "ConfirmScreen")
        await until(pilot, lambda: confirm.answerable, what="the question drawn")
        await pilot.press("y")
        await until(pilot, lambda: product(db, "Bolts").archived_at is not None, what="Bolts retired")
        await until(pilot, lambda: [r.name for r in screen.rows] == ["[b]Racks[/b]"], what="Bolts hidden")
        await pilot.press("r")
        await until(
            pilot, lambda: [(r.name, r.retired) for r in screen.rows][-1] == ("Bolts", True), what="retired shown"
        )
        await pilot.press("ctrl+z")
        await until(pilot, lambda: product(db, "Bolts").archived_at is None, what="offered again")
