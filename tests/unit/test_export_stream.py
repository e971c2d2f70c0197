"""The export streams (issue 21): rows are read, formatted and written a chunk at a time, and the
file is the same whatever the chunk size — byte for byte the file of a small known database."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from crm_tui.io import exporter
from crm_tui.io.mapping import KINDS
from crm_tui.models import Order


@pytest.fixture
def book(services, db):
    """Seven deals (one with two product lines, one with no customer), hostile text, and seven
    order lines over three orders plus an order with no lines."""
    widget = services.create_product("Widget", "10.00", code="W-1")
    gadget = services.create_product("=Gadget", "2.50")
    acme = services.create_customer(name="Acme", email="ap@acme.example", owner="ann")
    evil = services.create_customer(name='=HYPERLINK("x")', owner="+cmd|' /C calc'!A0", tags="@vip")
    services.create_contact(acme.id, name='Ann, "the" buyer', title="-Head", email="ann@acme.example")
    services.create_deal("Big", customer_id=acme.id, products=[(widget.id, 2), (gadget.id, 1)], owner="bo")
    services.create_deal("Evil", customer_id=evil.id, products=[(widget.id, 1, "9.99")])
    services.create_deal("Loose", amount="5", owner="-x")
    for n in range(4):
        services.create_deal(f"Deal {n}", customer_id=acme.id, amount=f"{n}.0{n}")
    services.add_task("Call back", customer_id=evil.id, priority=3, notes='line 1\nline 2, "q"')
    services.create_order(acme.id, [(widget.id, 1), (gadget.id, 4)])
    services.create_order(evil.id, [(widget.id, 2), (gadget.id, 1), (widget.id, 3, "0.05")])
    services.create_order(acme.id, [(gadget.id, 10**6), (widget.id, 1)])
    with db.write({"sales_order"}) as s:  # an order with no lines (an import can make one)
        s.add(Order(number="SO-EMPTY", customer_id=acme.id, created_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)))
    return db


def export(db, kind, fmt="csv", **kw) -> str:
    buf = io.StringIO()
    exporter.export_kind(db, kind, buf, fmt, **kw)
    return buf.getvalue()


EXPECTED_DEALS = """\
external_id,title,customer,customer_external_id,pipeline,stage,status,amount,currency,probability,owner,product,quantity,unit_price,created_at,expected_close,closed_at,lost_reason,forecast_category
crm-1,Big,Acme,crm-c1,Sales,Lead,open,22.50,USD,,bo,Widget; =Gadget,2; 1,10.00; 2.50,2026-03-16T14:30:00+00:00,,,,
crm-2,Evil,"'=HYPERLINK(""x"")",crm-c2,Sales,Lead,open,9.99,USD,,ann,Widget,1,9.99,2026-03-16T14:30:00+00:00,,,,
crm-3,Loose,,,Sales,Lead,open,5.00,USD,,'-x,,,,2026-03-16T14:30:00+00:00,,,,
crm-4,Deal 0,Acme,crm-c1,Sales,Lead,open,0.00,USD,,ann,,,,2026-03-16T14:30:00+00:00,,,,
crm-5,Deal 1,Acme,crm-c1,Sales,Lead,open,1.01,USD,,ann,,,,2026-03-16T14:30:00+00:00,,,,
crm-6,Deal 2,Acme,crm-c1,Sales,Lead,open,2.02,USD,,ann,,,,2026-03-16T14:30:00+00:00,,,,
crm-7,Deal 3,Acme,crm-c1,Sales,Lead,open,3.03,USD,,ann,,,,2026-03-16T14:30:00+00:00,,,,
"""

EXPECTED_ORDERS = """\
number,customer,customer_external_id,deal,status,owner,created_at,currency,line_number,product,quantity,unit_price,line_total
SO-000001,Acme,crm-c1,,draft,ann,2026-03-16T14:30:00+00:00,USD,1,Widget,1,10.00,10.00
SO-000001,Acme,crm-c1,,draft,ann,2026-03-16T14:30:00+00:00,USD,2,'=Gadget,4,2.50,10.00
SO-000002,"'=HYPERLINK(""x"")",crm-c2,,draft,ann,2026-03-16T14:30:00+00:00,USD,1,Widget,2,10.00,20.00
SO-000002,"'=HYPERLINK(""x"")",crm-c2,,draft,ann,2026-03-16T14:30:00+00:00,USD,2,'=Gadget,1,2.50,2.50
SO-000002,"'=HYPERLINK(""x"")",crm-c2,,draft,ann,2026-03-16T14:30:00+00:00,USD,3,Widget,3,0.05,0.15
SO-000003,Acme,crm-c1,,draft,ann,2026-03-16T14:30:00+00:00,USD,1,'=Gadget,1000000,2.50,2500000.00
SO-000003,Acme,crm-c1,,draft,ann,2026-03-16T14:30:00+00:00,USD,2,Widget,1,10.00,10.00
SO-EMPTY,Acme,crm-c1,,draft,,2026-01-02T03:04:05+00:00,USD,,,,,
"""


def test_streamed_file_is_the_known_file(book):
    assert export(book, "deals") == EXPECTED_DEALS
    assert export(book, "orders") == EXPECTED_ORDERS


def test_json_of_an_order_without_lines_is_valid_json(book):
    """Line numbers are whole numbers, and an order with no lines has none (not NaN, not 2.0)."""
    import json

    rows = json.loads(export(book, "orders", "json"))
    assert [r["line_number"] for r in rows] == [1, 2, 1, 2, 3, 1, 2, None]
    assert rows[5]["line_total"] == 2500000 and rows[4]["line_total"] == 0.15


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_chunk_boundary_changes_nothing(book, fmt):
    """Chunks of 3 rows: deals 3+3+1, order lines 3+3+2 (the second order's lines and the third's
    straddle two chunks): every kind's file is the one written in a single chunk."""
    for kind in KINDS:
        whole = export(book, kind, fmt, chunk_rows=10_000)
        assert export(book, kind, fmt, chunk_rows=3) == whole, kind
    assert export(book, "deals", chunk_rows=3) == EXPECTED_DEALS


def test_rows_are_written_as_they_are_read(book):
    """With chunks of 3, the 7 deals reach the stream in 3 writes, each of whole rows: the
    export never holds more than a chunk."""

    class Recorder(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.writes: list[str] = []

        def write(self, s: str) -> int:
            self.writes.append(s)
            return super().write(s)

    out = Recorder()
    assert exporter.export_kind(book, "deals", out, "csv", chunk_rows=3) == 7
    assert len(out.writes) == 3 and all(w.endswith("\n") for w in out.writes)
    assert "".join(out.writes) == EXPECTED_DEALS


@pytest.mark.sqlite_only
def test_an_export_that_fails_half_way_leaves_no_file(book, tmp_path, monkeypatch):
    real = exporter._csv_chunk
    calls = []

    def fail_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(*args)

    monkeypatch.setattr(exporter, "_csv_chunk", fail_second)
    path = tmp_path / "deals.csv"
    with pytest.raises(RuntimeError, match="disk on fire"):
        exporter.export_kind(book, "deals", path, "csv", chunk_rows=3)
    assert not path.exists()


@pytest.mark.parametrize(
    "cents, text", [(0, "0.00"), (5, "0.05"), (-5, "-0.05"), (-12345, "-123.45"), (10**17 + 1, "1000000000000000.01")]
)
def test_money_text_is_exact_for_negative_amounts_too(cents, text):
    assert exporter._money_text(cents) == text


@pytest.mark.parametrize(
    "stored, text",
    [
        ("2025-06-28 06:40:00.000000", "2025-06-28T06:40:00+00:00"),
        ("2025-06-28 06:40:00.250000", "2025-06-28T06:40:00.250000+00:00"),
        ("2025-06-28 06:40:00", "2025-06-28T06:40:00+00:00"),  # written by hand or by SQL, not by us
        ("2025-06-28T06:40:00+02:00", "2025-06-28T04:40:00+00:00"),
        ("2025-06-28", "2025-06-28"),
    ],
)
def test_sqlite_time_text_is_written_as_the_datetime_it_reads_as(stored, text):
    from crm_tui.models import UTCDateTime

    assert exporter._iso_text(stored) == text
    if len(stored) > 10:
        from sqlalchemy.dialects import sqlite

        assert UTCDateTime().process_result_value(stored, sqlite.dialect()).isoformat() == text
