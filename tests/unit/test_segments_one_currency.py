"""Segments of a book whose purchases are all in one currency take a shorter road (one ordered
read for the M ≥ 4 threshold, one pass of at most 50 cells): on any buyers, it gives exactly what
the general statement (a window over every buyer) gives — home currency, a converted one, one
with no rate — on both engines."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from crm_tui.metrics import segments
from crm_tui.metrics._common import load_stages
from crm_tui.models import FIG_BUYER
from crm_tui.money import Converter, load_rates_conn
from crm_tui.services import Services

NOW = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

#: ages around every recency threshold, exactly on it and a second either side, and some others
AGES = st.one_of(
    st.sampled_from([d * DAY + s * dt.timedelta(seconds=1) for d in (0, 30, 90, 180, 365) for s in (-1, 0, 1)]),
    st.integers(0, 800).map(lambda d: d * DAY),
)
BUYER = st.tuples(st.integers(1, 8), st.sampled_from([0, 100, 100, 250, 999, 5000, 10**9]), AGES)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(buyers=st.lists(BUYER, min_size=1, max_size=30), code=st.sampled_from(["USD", "EUR", "XYZ"]))
def test_one_currency_gives_what_the_window_gives(db, buyers, code):
    if code == "EUR":
        Services(db).set_rate("EUR", "1.10")
    with db.engine.begin() as conn:
        conn.execute(delete(FIG_BUYER))
        conn.execute(
            insert(FIG_BUYER),
            [
                {"customer_id": i + 1, "currency": code, "n": n, "value": value, "last_at": NOW - age}
                for i, (n, value, age) in enumerate(buyers)
            ],
        )
    with db.read() as session:
        conn = session.connection()
        conv = Converter(load_rates_conn(conn))
        shorter = segments.segment_rows(conn, load_stages(conn), NOW, conv)
        general = segments._window_rows(conn, load_stages(conn), NOW, conv)
    assert shorter == general
    assert sum(s.count for s in shorter) == len(buyers)
