"""The report renderers: JSON, CSV and text all carry the same figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from crm_tui.errors import ValidationError
from crm_tui.metrics import report
from crm_tui.models import Customer, Deal, DealProduct, Product, Stage
from crm_tui.report import render

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)


@pytest.fixture
def data(db):
    from sqlalchemy import select

    with db.write({"customer", "deal", "product", "deal_product"}) as s:
        st = {x.name: x for x in s.execute(select(Stage)).scalars()}
        acme = Customer(name="Acme", name_key="acme")
        s.add(acme)
        s.flush()

        def deal(stage, cents, **kw):
            d = Deal(
                title="d",
                customer_id=acme.id,
                pipeline_id=st[stage].pipeline_id,
                stage_id=st[stage].id,
                amount_cents=cents,
                created_at=NOW - dt.timedelta(days=4),
                **kw,
            )
            s.add(d)
            s.flush()
            return d

        deal("Won", 150000000, owner="ann", closed_at=NOW - dt.timedelta(days=1))  # 1,500,000.00
        deal("Lost", 50000, owner="ann", closed_at=NOW)
        lead = deal("Lead", 123456, owner="\x1b]0;evil\x07bob")  # 1,234.56, a hostile owner name
        p = Product(name="Sïège", unit_price_cents=250)
        s.add(p)
        s.flush()
        s.add(DealProduct(deal_id=lead.id, product_id=p.id, quantity=4))
    return report(db, now=NOW)


def test_json_round_trips_to_the_same_dict(data):
    text = render(data, "json")
    assert json.loads(text) == data
    assert '"product": "Sïège"' in text  # ensure_ascii=False keeps non-ASCII readable
    assert json.loads(text)["deals"]["won_value"] == 1500000


def test_csv_is_one_flat_table_a_spreadsheet_reads(data):
    rows = list(csv.reader(io.StringIO(render(data, "csv"))))
    assert rows[0] == ["section", "item", "key", "value"]
    assert all(len(r) == 4 for r in rows)
    cells = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert cells[("deals", "", "won_value")] == "1500000"
    assert cells[("deals", "", "win_rate")] == "0.5"  # 1 won ÷ (1 won + 1 lost)
    assert cells[("deals", "", "velocity_per_day")] != ""
    assert cells[("stages", "Lead", "conversion")] == "0.3333"  # of 3 counted deals only the won one passed Lead
    assert cells[("stages", "Won", "conversion")] == ""  # undefined → blank
    assert cells[("market_demand", "Sïège", "demand")] == "10"  # 4 × 2.50
    assert cells[("revenue_by_month", "2026-03", "won_value")] == "1500000"
    assert cells[("segments", "champions", "count")] in {"0", "1"}


def test_text_shows_symbols_thousands_separators_and_escapes_hostile_names(data):
    text = render(data, "text", title="Sales report 2026")
    assert text.startswith("Sales report 2026\n")
    for symbol in ("C ", "V ", "R ", "S ", "O ", "W ", "M "):
        assert f"\n  {symbol}" in text
    assert "1,500,000.00" in text  # R, the won amount
    assert "1,234.56" in text  # the open Lead deal's value in the stages table
    assert "50.0%" in text  # win rate
    assert "Sïège" in text and "10.00" in text  # market demand: 4 × 2.50
    assert "2026-03" in text
    assert "\x1b" not in text and "\x07" not in text  # terminal escapes are shown, not sent
    assert "\\x1b]0;evil\\x07bob" in text
    for heading in ("Stages", "Owners", "Tasks", "Customer segments (RFM)", "Revenue by month (won)"):
        assert f"\n{heading}\n" in text


def test_unknown_format_says_which_ones_exist(data):
    with pytest.raises(ValidationError, match="text, json, csv"):
        render(data, "xml")
