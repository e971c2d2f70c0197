"""The importer's fast paths read and stage exactly what the general ones do (issue 21): a parser
run once per distinct cell (``parse.by_unique``) equals the same parser run on every cell; plain
amounts read in plain Python equal the general money rules; rows staged column-wise (values all
rows share written into the statement) equal rows staged one dict at a time."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from crm_tui.io import parse as P

MONEY_BITS = ["0", "1", "5", "9", "12", "007", ".", ",", " ", "$", "€", "-", "(", ")", "'", "usd", "e", "١", "\u00a0"]
DATE_BITS = ["2024", "1", "12", "31", "25", "-", "/", ".", " ", ":", "Apr", "T", "Z", "+01:00", "99", "PM", ","]


PLAIN_AMOUNT = st.from_regex(r" ?[0-9]{1,15}(\.[0-9]{0,3})? ?", fullmatch=True)


def cells(bits, plain=None):
    word = st.lists(st.sampled_from(bits), max_size=7).map("".join)
    if plain is not None:
        word = st.one_of(word, plain)
    # a few distinct cells repeated many times, as in a real column
    return st.lists(word, min_size=1, max_size=8).flatmap(
        lambda pool: st.lists(st.sampled_from(pool), min_size=1, max_size=60)
    )


def column(values):
    return pd.Series(values, dtype=str)


def same(a, b) -> bool:
    return (
        a.dtype == b.dtype
        and a.isna().equals(b.isna())
        and a.fillna(0).astype(object).equals(b.fillna(0).astype(object))
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells(MONEY_BITS, PLAIN_AMOUNT))
def test_money_read_once_per_distinct_cell_and_plainly_equals_the_general_rules(values):
    s = column(values)
    got, bad = P.parse_money(s)
    want, want_bad = P._parse_money_general(P._stripped(s))
    assert same(got, want)
    assert bad.tolist() == want_bad.tolist()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells(DATE_BITS), st.booleans())
def test_dates_read_once_per_distinct_cell_equal_every_cell_read(values, dayfirst):
    s = column(values)
    text_ = P._stripped(s)
    order = P.date_order(text_[~P._missing(text_)], dayfirst=dayfirst)
    got, bad = P.parse_dates(s, dayfirst=dayfirst, order=order)
    want, want_bad = P._parse_dates(s, dayfirst=dayfirst, order=order)
    assert got.dtype == want.dtype and got.astype(object).equals(want.astype(object))
    assert bad.tolist() == want_bad.tolist()


def test_a_column_of_distinct_cells_is_checked_and_stripped_as_pandas_does():
    s = column([f" id{i}\t" if i % 3 else f"bad\x01{i}" for i in range(3000)] + ["x" * 201, " é\u2003"])
    assert P._stripped(s).equals(s.str.strip())
    assert P._check_text(s).equals(s.str.contains(P._CONTROL_LINE, regex=True) | (s.str.len() > 200))
    # the per-row reasons still name the first bad cells
    assert int(P.check_text(P.stripped(s)).sum()) == 1001


def test_by_unique_keeps_the_index_and_name():
    s = pd.Series(["a", " b", "a", "NA"] * 10, index=range(100, 140), name="col", dtype=str)
    out = P.stripped(s)
    assert out.index.equals(s.index) and out.name == "col" and out.tolist() == [v.strip() for v in s]


def staged(conn, table_name):
    rows = conn.execute(text(f"SELECT * FROM crm_stage_{table_name} ORDER BY id DESC")).mappings().all()
    return [dict(r) for r in rows]


@pytest.mark.parametrize("n", [3, 1])
def test_rows_staged_column_wise_equal_rows_staged_one_by_one(tmp_path, n):
    from crm_tui.db import Database
    from crm_tui.io import staging
    from crm_tui.models import Deal

    now = dt.datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=dt.UTC)
    rows = [
        {
            "title": f"Deal {i}",
            "customer_id": None,
            "pipeline_id": 1,
            "stage_id": 2 + i % 2,
            "amount_cents": 10**12 + i,
            "currency": "USD",
            "probability": None,
            "forecast_category": None,
            "expected_close": dt.date(2025, 1, 1 + i),
            "owner": "O'Brien",  # a quote, shared by every row: written into the statement
            "lost_reason": "",
            "external_id": f"X{i}",
            "created_at": now,
            "updated_at": now,
            "stage_entered_at": now - dt.timedelta(days=i),
            "closed_at": None,
            "version": 1,
        }
        for i in range(n)
    ]
    frame = pd.DataFrame(rows)
    for c in ("created_at", "updated_at", "stage_entered_at"):
        frame[c] = pd.to_datetime(frame[c], utc=True).astype("datetime64[us, UTC]")
    db = Database.open(str(tmp_path / "crm.sqlite3"))
    try:
        with db.engine.connect() as conn:
            with staging.staging(conn) as one:
                with conn.begin():
                    ids = one.insert(Deal.__table__, [dict(r) for r in rows])
                    want = staged(conn, "deal")
            with staging.staging(conn) as many:
                with conn.begin():
                    columns = {c: staging.driver_values(frame[c], conn.dialect) for c in frame.columns}
                    assert many.insert_columns(Deal.__table__, columns) == ids
                    got = staged(conn, "deal")
    finally:
        db.close()
    assert got == want
