"""Issue 15's "how we will know": a whole sale with keys only — a product, a customer, a deal with
two product lines, every stage (its playbook tasks, owner and due date), the win, the order made
from it, approved and fulfilled — checking the database and the Reports tiles after each step."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from crm_tui.models import Customer, Deal, DealProduct, Order, Product, Stage, Task


def one(db, model, *where):
    with db.read() as s:
        return s.exec(select(model).where(*where)).one()


def shown(app, selector):
    """What a widget of the screen shows, as plain text."""
    from textual.geometry import Region

    widget = app.screen.query_one(selector)
    return "\n".join(line.text for line in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)))


def all_of(db, model, *where):
    with db.read() as s:
        return list(s.exec(select(model).where(*where)))


@pytest.mark.keys_only
async def test_a_whole_sale_with_keys_only(make_app, settle, until, opened, db, clock):
    app = make_app("orders")

    async def tiles(**expected: str) -> None:
        """Switch to Reports (4), check the tiles shown, and come back to the section we were in (its
        key: its list, whatever was open on top of it)."""
        mode = app.current_mode
        await pilot.press("4")
        await until(pilot, lambda: type(app.screen).__name__ == "ReportsScreen", what="Reports")
        await settle(app, pilot)
        got = {k: app.screen.query_one(f"#kpi-{k}").value for k in expected}
        assert got == expected
        await pilot.press({"orders": "5", "pipeline": "2", "customers": "1"}[mode])
        await settle(app, pilot)

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        # a product (Orders P, n), and a second one
        await pilot.press("P")
        await until(pilot, lambda: type(app.screen).__name__ == "ProductsScreen", what="the catalogue")
        for name, price in (("Racks", "120.50"), ("Bolts", "0.25")):
            await pilot.press("n")
            await opened(pilot, "FormScreen")
            await pilot.press(*name, "enter", "enter", *price, "ctrl+s")
            await until(pilot, lambda: type(app.screen).__name__ == "ProductsScreen", what="the product saved")
        await settle(app, pilot)
        racks, bolts = (one(db, Product, Product.name == n) for n in ("Racks", "Bolts"))
        assert (racks.unit_price_cents, bolts.unit_price_cents) == (12050, 25)
        await pilot.press("escape")
        await tiles(M="0.00", O="0")

        # a customer (Customers n)
        await pilot.press("1")
        await settle(app, pilot)
        await pilot.press("n")
        await opened(pilot, "CustomerForm")
        await pilot.press(*"Acme", "ctrl+s")
        await until(pilot, lambda: len(all_of(db, Customer)) == 1, what="the customer saved")
        acme = one(db, Customer)
        await tiles(C="1")

        # a deal for it (board n), then its two product lines on its page (l)
        await pilot.press("2")
        await settle(app, pilot)
        await pilot.press("n")
        await opened(pilot, "DealFormScreen")
        await pilot.press(*"Warehouse", "enter", *"Acme", "ctrl+s")
        await until(pilot, lambda: len(all_of(db, Deal)) == 1, what="the deal saved")
        deal = one(db, Deal)
        assert deal.customer_id == acme.id and deal.amount_cents == 0 and deal.owner == "ann"
        await settle(app, pilot)
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "DealDetailScreen", what="the deal page")
        await settle(app, pilot)
        await pilot.press("l")
        form = await opened(pilot, "DealLinesFormScreen")
        await pilot.press(*"Racks", "enter", "ctrl+a", "ctrl+k", "4", "ctrl+n")
        await until(pilot, lambda: form.focused is not None and form.focused.id == "field-l2_product")
        await pilot.press(*"Bolts", "enter", "ctrl+a", "ctrl+k", *"200", "ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "DealDetailScreen", what="the lines saved")
        await settle(app, pilot)
        lines = all_of(db, DealProduct, DealProduct.deal_id == deal.id)
        assert [(x.product_id, x.quantity, x.unit_price_cents) for x in lines] == [
            (racks.id, 4, 12050),
            (bolts.id, 200, 25),
        ]
        assert one(db, Deal).amount_cents == 53200  # the amount follows the lines
        assert "Total" in shown(app, "#deal-lines") and "532.00" in shown(app, "#deal-lines")
        await tiles(M="532.00", R="0.00", O="0", W="0.00", V="0.00")

        # every stage with L on the board (back on it: the section key shows a section's list)
        # each stage's playbook task for the owner, due after its days
        for stage, subject, days in (
            ("Qualified", "Discovery call: budget, authority, need, timing", 2),
            ("Proposal", "Send the proposal", 3),
            ("Negotiation", "Agree terms and close date", 5),
        ):
            await pilot.press("L")
            await until(pilot, lambda s=stage: one(db, Stage, Stage.id == one(db, Deal).stage_id).name == s, what=stage)
            task = one(db, Task, Task.subject == subject)
            assert task.owner == "ann" and task.deal_id == deal.id
            assert task.due_at.replace(tzinfo=dt.UTC) == clock.now + dt.timedelta(days=days)
        await settle(app, pilot)
        await tiles(M="532.00", R="0.00")

        # win it (w): the sale counts in R and V, no longer in M
        await pilot.press("w")
        await until(pilot, lambda: one(db, Deal).closed_at is not None, what="the win")
        assert one(db, Stage, Stage.id == one(db, Deal).stage_id).outcome == "won"
        await settle(app, pilot)
        await tiles(M="0.00", R="532.00", V="532.00", O="0", W="0.00")

        # the order from it (o on the deal page), approved (a) and fulfilled (f) on its page
        await pilot.press("l", "enter")  # the cursor stays in its column after a win: the Won one is next
        await until(pilot, lambda: type(app.screen).__name__ == "DealDetailScreen", what="the deal page")
        await settle(app, pilot)
        await pilot.press("o")
        await opened(pilot, "OrderFormScreen")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "OrderDetailScreen", what="the order's page")
        await settle(app, pilot)
        order = one(db, Order)
        assert (order.status, order.deal_id, order.customer_id) == ("draft", deal.id, acme.id)
        await tiles(O="1", W="532.00", V="532.00")
        await pilot.press("5")  # the Orders list, the new order highlighted
        await until(pilot, lambda: type(app.screen).__name__ == "OrdersScreen", what="the orders")
        await settle(app, pilot)
        await pilot.press("a")
        await until(pilot, lambda: one(db, Order).status == "approved", what="the approval")
        await settle(app, pilot)
        await pilot.press("f")
        await until(pilot, lambda: one(db, Order).status == "fulfilled", what="the fulfilment")
        await settle(app, pilot)
        # fulfilled: the customer's value counts the sale once (the order came from the won deal)
        await tiles(M="0.00", R="532.00", O="1", W="532.00", V="532.00", C="1")
