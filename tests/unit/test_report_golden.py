"""`crm-tui report` writes the same bytes it always has (JSON, text and CSV), on a book made of
the amounts floats get wrong: half-cent weighted values, sums past 2**53 cents, 0.1 + 0.2.

The files in tests/data/report_golden were written before the report's figures moved to exact
cents (metrics.figures); a change that means to change the report rewrites them with
CRM_TUI_WRITE_GOLDEN=1 and shows the difference in its commit.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from crm_tui.metrics import Filters, report
from crm_tui.report import render

GOLDEN = Path(__file__).parent.parent / "data" / "report_golden"
NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=dt.UTC)
BIG = "9999999999999.99"  # the largest amount there is: 10**15 - 1 cents

FILTERS = {
    "all": Filters(),
    "period": Filters(since=dt.date(2025, 11, 1), until=dt.date(2026, 2, 28)),
    "ann": Filters(owner="ann"),
}


@pytest.fixture
def book(services, clock):
    s = services
    clock.now = NOW - dt.timedelta(days=200)
    a = s.create_customer(name="Acme")
    b = s.create_customer(name="=Bobs")
    dime = s.create_product("dime", "0.10")
    twenty = s.create_product("twenty", "0.20")
    big = s.create_product("big", BIG)
    odd = s.create_product("odd", "0.07")
    s.create_deal("half", customer_id=a.id, amount="0.01", probability=50, owner="ann")  # weighted 0.005
    s.create_deal("one and a half", customer_id=a.id, amount="0.03", probability=50, owner="bob")  # 0.015
    s.create_deal("six sixteen half", customer_id=b.id, amount="12.33", probability=50, owner="bob")  # 6.165
    s.create_deal("p", customer_id=a.id, products=[(dime.id, 1)], owner="ann")
    s.create_deal("q", customer_id=b.id, products=[(twenty.id, 1)], owner="ann")
    s.create_deal("r", customer_id=b.id, products=[(odd.id, 3)], owner="ann")
    s.create_deal("huge", customer_id=a.id, products=[(big.id, 7)], owner="carl")
    for i in range(3):
        s.create_deal(f"big{i}", customer_id=b.id, amount=BIG, probability=33, owner="carl")
    w1 = s.create_deal("w1", customer_id=a.id, amount="0.01", owner="ann")
    w2 = s.create_deal("w2", customer_id=b.id, amount="0.02", owner="ann")
    w3 = s.create_deal("w3", customer_id=b.id, amount=BIG, owner="carl")
    l1 = s.create_deal("l1", customer_id=a.id, amount="0.10", owner="bob")
    s.move_deal_step(w2.id, 1)
    clock.now += dt.timedelta(days=37, hours=5)
    s.win_deal(w1.id)
    clock.now += dt.timedelta(days=30)
    s.win_deal(w2.id)
    s.win_deal(w3.id)
    s.lose_deal(l1.id, "price")
    o = s.create_order(a.id, [(dime.id, 1), (twenty.id, 1)])
    s.approve_order(o.id)
    s.fulfil_order(o.id)
    s.create_order(b.id, [(big.id, 5)])
    s.add_task("call", customer_id=a.id, due_at=NOW - dt.timedelta(days=1))
    return s.db


@pytest.mark.sqlite_only  # the bytes come from the renderer; PostgreSQL cannot store these amounts (32-bit)
@pytest.mark.parametrize("fmt", ["json", "text", "csv"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_the_report_is_byte_identical(book, name, fmt):
    text = render(report(book, FILTERS[name], now=NOW), fmt)
    path = GOLDEN / f"edge-{name}.{fmt}"
    if os.environ.get("CRM_TUI_WRITE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
