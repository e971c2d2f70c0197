"""An export's order line totals are exact integer cents (quantity × unit price in Python
integers): no float column, no 64-bit overflow."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from crm_tui.io import export_kind
from crm_tui.models import Order

BIG = "9999999999999.99"  # the largest unit price there is: 10**15 - 1 cents


@pytest.mark.sqlite_only  # PostgreSQL keeps a unit price in 32 bits: BIG does not fit
def test_line_totals_are_exact_past_a_floats_integers_and_64_bits(services, db):
    acme = services.create_customer(name="Acme")
    big = services.create_product("big", BIG)
    services.create_order(acme.id, [(big.id, 11)])
    with db.write({"sales_order"}) as s:  # an order with no lines (an import can make one)
        s.add(Order(number="SO-EMPTY", customer_id=acme.id, created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    # 11 × 9,999,999,999,999.99: 10,999,999,999,999,989 cents, odd past 2**53
    assert _line_totals(db) == ["109999999999999.89", ""]
    services.create_order(acme.id, [(big.id, 10**9)])
    # 10**9 × (10**15 - 1) cents: past 2**63
    assert _line_totals(db) == ["109999999999999.89", "", "9999999999999990000000.00"]


def _line_totals(db) -> list[str]:
    buf = io.StringIO()
    export_kind(db, "orders", buf, "csv")
    return [row["line_total"] for row in csv.DictReader(io.StringIO(buf.getvalue()))]
