"""The segments kept between reports (``segment_rows(…, memo=)``) equal the segments counted
again, whatever happens between two reports: time moving on — by a second, across a recency
threshold exactly, by a year — or back, a purchase rewritten, several currencies; both engines."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, text

from crm_tui import kept
from crm_tui.metrics import segments
from crm_tui.metrics._common import load_stages
from crm_tui.models import FIG_BUYER
from crm_tui.money import Converter, load_rates_conn
from crm_tui.services import Services

NOW = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
THRESHOLDS = (30, 90, 180, 365)

AGES = st.one_of(
    st.sampled_from([d * DAY + s * SECOND for d in (0, 30, 90, 180, 365) for s in (-1, 0, 1)]),
    st.integers(0, 800).map(lambda d: d * DAY + d * 37 * SECOND),
)
BUYER = st.tuples(st.integers(1, 8), st.sampled_from([0, 100, 250, 999, 5000, 10**9]), AGES)
#: what happens before the next report: time moves (to a buyer's next threshold, a second
#: either side of it, or by a fixed step), goes back, or a purchase is rewritten
STEP = st.one_of(
    st.tuples(st.just("threshold"), st.integers(0, 29), st.sampled_from(THRESHOLDS), st.sampled_from([-1, 0, 1])),
    st.tuples(st.just("by"), st.sampled_from([SECOND, 7 * SECOND, DAY, 45 * DAY, 400 * DAY])),
    st.tuples(st.just("back"), st.sampled_from([SECOND, 2 * DAY])),
    st.tuples(st.just("rewrite"), st.integers(0, 29), st.integers(1, 9)),
)


def _write(db, rows):
    with db.engine.begin() as conn:
        conn.execute(delete(FIG_BUYER))
        conn.execute(insert(FIG_BUYER), rows)
        conn.execute(  # what the triggers do on a write that rewrites purchases
            text(
                f"INSERT INTO fig_state (key, value) SELECT '{kept.BUYER_CHANGES}', 1 WHERE true "
                "ON CONFLICT (key) DO UPDATE SET value = fig_state.value + 1"
            )
        )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    buyers=st.lists(BUYER, min_size=1, max_size=30),
    codes=st.sampled_from([("USD",), ("EUR",), ("XYZ",), ("USD", "EUR")]),
    steps=st.lists(STEP, min_size=1, max_size=8),
)
def test_kept_segments_equal_the_segments_counted_again(db, buyers, codes, steps):
    if "EUR" in codes:
        Services(db).set_rate("EUR", "1.10")
    rows = [
        {"customer_id": i + 1, "currency": codes[i % len(codes)], "n": n, "value": v, "last_at": NOW - age}
        for i, (n, v, age) in enumerate(buyers)
    ]
    _write(db, rows)
    memo: dict = {}
    now = NOW
    for step in [("by", dt.timedelta(0)), *steps]:
        if step[0] == "threshold":
            _kind, who, days, seconds = step
            now = rows[who % len(rows)]["last_at"] + days * DAY + seconds * SECOND
        elif step[0] == "by":
            now += step[1]
        elif step[0] == "back":
            now -= step[1]
        else:
            _kind, who, n = step
            rows[who % len(rows)]["n"] = n
            _write(db, rows)
        with db.read() as session:
            conn = session.connection()
            stages = load_stages(conn)
            again = segments.segment_rows(conn, stages, now, Converter(load_rates_conn(conn)))
            held = segments.segment_rows(conn, stages, now, Converter(load_rates_conn(conn)), memo=memo)
        assert held == again, (step, now)
        assert sum(s.count for s in held) == len(rows)


def test_a_write_that_rewrites_purchases_is_seen_by_the_kept_segments(db, services, clock):
    """Every kind of write that changes a purchase counts in ``kept.BUYER_CHANGES``, so the report
    after it counts the segments again: a win, a reopen, a fulfilled order, a customer deleted and
    restored — while moves between open stages leave the kept segments in use."""
    from crm_tui.metrics import report_figures

    ann = services.create_customer(name="Ann's shop")
    bob = services.create_customer(name="Bob's shop")
    deal = services.create_deal("first", amount="300", customer_id=ann.id)
    widget = services.create_product("Widget", "40")
    order = services.create_order(bob.id, [(widget.id, 2)])

    def kept_and_again():
        held = report_figures(db, now=clock()).segments
        db.memo.clear()
        again = report_figures(db, now=clock()).segments
        return held, again

    report_figures(db, now=clock())
    for write in (
        lambda: services.win_deal(deal.id),
        lambda: services.approve_order(order.id),
        lambda: services.fulfil_order(order.id),
        lambda: services.delete_customer(bob.id),
        lambda: services.restore_customer(bob.id),
        lambda: services.reopen_deal(deal.id),
    ):
        write()
        held, again = kept_and_again()
        assert held == again
    changes = kept.buyer_changes
    with db.read() as session:
        before = changes(session.connection())
    other = services.create_deal("second", amount="5", customer_id=ann.id)
    services.move_deal_step(other.id, 1)
    with db.read() as session:
        after = changes(session.connection())
    if db.dialect.name == "sqlite":  # PostgreSQL's triggers cannot look a stage up in their condition
        assert after == before + 1  # the new deal's customer recounted; the move rewrote nothing
