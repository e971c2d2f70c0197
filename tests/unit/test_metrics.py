"""Every report figure against numbers worked out by hand.

Fixtures are inserted straight through the models (no services), on the
default "Sales" pipeline: Lead 10%, Qualified 25%, Proposal 50%,
Negotiation 75% (open, rot 14/14/21/21 days), Won 100%, Lost 0%.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm_tui.errors import ValidationError
from crm_tui.metrics import Filters, customer_segments, forecast_by_month, report, rotting_deal_ids, stage_summaries
from crm_tui.models import Customer, Deal, DealProduct, Order, OrderLine, Product, Stage, StageChange, Task

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)


def at(y, m, d, h=0, mi=0, s=0):
    return dt.datetime(y, m, d, h, mi, s, tzinfo=UTC)


class Book:
    """Insert rows through the models inside one write transaction."""

    def __init__(self, db):
        self.db = db
        with db.read() as s:
            self.stage = {st.name: st for st in s.execute(select(Stage)).scalars()}
        self.pipeline_id = self.stage["Lead"].pipeline_id

    def __enter__(self):
        self._cm = self.db.write({"customer", "deal", "stage_change", "task", "sales_order", "product"})
        self.s = self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)

    def add(self, obj):
        self.s.add(obj)
        self.s.flush()
        return obj

    def customer(self, name="Acme", **kw):
        return self.add(Customer(name=name, name_key=name.lower(), **kw))

    def deal(self, stage, cents, *, customer=None, history=(), closed=None, created=T0, **kw):
        st = self.stage[stage]
        d = self.add(
            Deal(
                title=f"{stage} {cents}",
                customer_id=customer.id if customer else None,
                pipeline_id=st.pipeline_id,
                stage_id=st.id,
                amount_cents=cents,
                closed_at=closed,
                created_at=created,
                stage_entered_at=kw.pop("entered", created),
                **kw,
            )
        )
        for name in history:
            self.add(StageChange(deal_id=d.id, to_stage_id=self.stage[name].id, at=created))
        return d


def test_open_weighted_won_lost_rates_cycle_and_velocity(db):
    with Book(db) as b:
        b.deal("Lead", 100000)  # 1,000.00 × 10% = 100.00
        b.deal("Proposal", 33333, probability=33)  # 333.33 × 33% override = 109.9989 (not 50%)
        b.deal("Negotiation", 20000)  # 200.00 × 75% = 150.00
        b.deal("Won", 50000, created=at(2026, 1, 1), closed=at(2026, 1, 11, 12))  # 10.5 days
        b.deal("Won", 150000, created=at(2026, 2, 1), closed=at(2026, 2, 3, 12))  # 2.5 days
        b.deal("Lost", 300000, closed=at(2026, 2, 10))
    d = report(db, now=NOW)["deals"]
    assert d["open_count"] == 3
    assert d["open_value"] == 1533.33  # 1000 + 333.33 + 200
    assert d["weighted_value"] == 359.9989  # 100 + 109.9989 + 150, exact to the hundredth of a cent
    assert (d["won_count"], d["won_value"], d["lost_count"], d["lost_value"]) == (2, 2000, 1, 3000)
    assert d["win_rate"] == 0.6667  # 2 ÷ (2 + 1)
    assert d["win_rate_by_value"] == 0.4  # 2000 ÷ (2000 + 3000)
    assert d["avg_won_value"] == 1000  # 2000 ÷ 2
    assert d["avg_cycle_days"] == 6.5  # (10.5 + 2.5) ÷ 2
    assert d["velocity_per_day"] == 307.69  # 3 open × 2/3 × 1000 ÷ 6.5 = 307.692…

    stages = {s["name"]: s for s in report(db, now=NOW)["stages"]}
    assert (stages["Proposal"]["count"], stages["Proposal"]["value"], stages["Proposal"]["weighted_value"]) == (
        1,
        333.33,
        109.9989,
    )
    assert stages["Lead"]["weighted_value"] == 100
    assert stages["Won"]["weighted_value"] == 2000 and stages["Lost"]["weighted_value"] == 0

    heads = {h.name: h for h in stage_summaries(db, b.pipeline_id)}
    assert (heads["Proposal"].count, heads["Proposal"].value_cents, heads["Proposal"].weighted_cents) == (
        1,
        33333,
        11000,
    )
    assert heads["Won"].value_cents == 200000 and heads["Qualified"].count == 0


def test_rates_are_null_not_a_division_by_zero_when_nothing_closed(db):
    with Book(db) as b:
        b.deal("Lead", 1000)
    d = report(db, now=NOW)["deals"]
    assert d["win_rate"] is None and d["win_rate_by_value"] is None
    assert d["avg_won_value"] is None and d["avg_cycle_days"] is None and d["velocity_per_day"] is None


def test_conversion_follows_stage_history_with_skips_moves_back_and_wins(db):
    with Book(db) as b:
        b.deal("Lead", 1, history=["Lead"])  # furthest Lead
        b.deal("Proposal", 1, history=["Lead", "Proposal"])  # skipped Qualified: reached L, Q, P
        b.deal("Qualified", 1, history=["Lead", "Qualified", "Negotiation", "Qualified"])  # moved back: reached N
        b.deal("Won", 1, history=["Lead", "Won"], closed=NOW)  # won: reached every open stage
        b.deal("Lost", 1, history=["Lead", "Qualified", "Lost"], closed=NOW)  # reached L, Q
        b.deal("Lost", 1, closed=NOW)  # no history: reached the first stage only
    conv = {s["name"]: s["conversion"] for s in report(db, now=NOW)["stages"]}
    # reached: Lead 6, Qualified 4, Proposal 3, Negotiation 2; won 1
    assert conv == {
        "Lead": 0.6667,  # 4 ÷ 6
        "Qualified": 0.75,  # 3 ÷ 4
        "Proposal": 0.6667,  # 2 ÷ 3
        "Negotiation": 0.5,  # 1 won ÷ 2
        "Won": None,
        "Lost": None,
    }


def test_period_and_owner_filters_limit_closed_and_owned_deals(db):
    with Book(db) as b:
        b.deal("Won", 10000, owner="ann", closed=at(2026, 2, 1))  # first instant of the period
        b.deal("Won", 20000, owner="ann", closed=at(2026, 2, 28, 23, 59, 59))  # last second of the period
        b.deal("Won", 40000, owner="ann", closed=at(2026, 3, 1))  # after --until
        b.deal("Won", 80000, owner="bob", closed=at(2026, 2, 10))
        b.deal("Lost", 5000, owner="ann", closed=at(2026, 1, 31, 23, 59))  # before --since
        b.deal("Lead", 100, owner="ann")
        b.deal("Lead", 100, owner="bob")
    feb = Filters(since=dt.date(2026, 2, 1), until=dt.date(2026, 2, 28))
    r = report(db, feb, now=NOW)
    assert (r["deals"]["won_count"], r["deals"]["won_value"], r["deals"]["lost_count"]) == (3, 1100, 0)
    assert r["deals"]["open_count"] == 2  # open deals are not limited by the period
    assert r["revenue_by_month"] == [{"month": "2026-02", "won_value": 1100}]

    ann = report(db, Filters(since=feb.since, until=feb.until, owner="ann"), now=NOW)
    assert (ann["deals"]["won_count"], ann["deals"]["won_value"], ann["deals"]["open_count"]) == (2, 300, 1)
    assert [o["owner"] for o in ann["owners"]] == ["ann"]

    everything = report(db, now=NOW)
    assert everything["revenue_by_month"] == [
        {"month": "2026-02", "won_value": 1100},
        {"month": "2026-03", "won_value": 400},
    ]
    owners = {o["owner"]: o for o in everything["owners"]}
    assert owners["ann"] == {
        "owner": "ann",
        "open_count": 1,
        "won_count": 3,
        "won_value": 700,
        "lost_count": 1,
        "win_rate": 0.75,
    }
    assert [o["owner"] for o in everything["owners"]] == ["bob", "ann"]  # biggest won value first


def test_period_the_wrong_way_round_is_a_user_error():
    with pytest.raises(ValidationError, match="swap"):
        Filters(since=dt.date(2026, 3, 1), until=dt.date(2026, 2, 1))


def test_soft_deleted_deals_and_customers_count_nowhere(db):
    with Book(db) as b:
        gone = b.customer("Gone", deleted_at=NOW)
        kept = b.customer("Kept")
        b.deal("Lead", 1000, customer=kept)
        b.deal("Lead", 2000, customer=gone)  # customer deleted
        b.deal("Lead", 4000, customer=kept, deleted_at=NOW)  # deal deleted
        b.deal("Won", 8000, customer=gone, closed=NOW)
    r = report(db, now=NOW)
    assert r["customers"] == {"count": 1, "value": 0}
    assert (r["deals"]["open_count"], r["deals"]["open_value"], r["deals"]["won_count"]) == (1, 10, 0)
    assert [h.count for h in stage_summaries(db, b.pipeline_id)][:1] == [1]


def test_customer_value_counts_an_order_from_a_won_deal_once_and_orders_skip_cancelled(db):
    with Book(db) as b:
        p = b.add(Product(name="Widget", unit_price_cents=100))
        x, y = b.customer("X"), b.customer("Y")
        won = b.deal("Won", 100000, customer=x, closed=NOW)
        lost = b.deal("Lost", 7000, customer=y, closed=NOW)

        def order(n, customer, status, cents, deal=None):
            o = b.add(Order(number=n, customer_id=customer.id, deal_id=deal.id if deal else None, status=status))
            b.add(OrderLine(order_id=o.id, product_id=p.id, quantity=2, unit_price_cents=cents // 2))

        order("1", x, "fulfilled", 100000, won)  # the won deal's order: already in V via the deal
        order("2", x, "fulfilled", 25000)  # 2 × 125.00
        order("3", x, "approved", 99900)  # not fulfilled: not in V, but an order (O, W)
        order("4", x, "cancelled", 50000)  # nowhere
        order("5", y, "fulfilled", 30000, lost)  # from a lost deal: counts in V
    r = report(db, now=NOW)
    assert r["customers"] == {"count": 2, "value": 1550}  # 1000 (won deal) + 250 + 300
    assert r["orders"] == {"count": 4, "value": 2549}  # 1000 + 250 + 999 + 300


def test_market_demand_is_open_quantity_times_product_price(db):
    with Book(db) as b:
        p1 = b.add(Product(name="Seat", unit_price_cents=1000))
        p2 = b.add(Product(name="Kit", unit_price_cents=250))
        a, c = b.deal("Lead", 1), b.deal("Proposal", 1)
        won, gone = b.deal("Won", 1, closed=NOW), b.deal("Lead", 1, deleted_at=NOW)
        for deal, prod, q in ((a, p1, 3), (a, p2, 4), (c, p1, 2), (won, p1, 100), (gone, p2, 50)):
            b.add(DealProduct(deal_id=deal.id, product_id=prod.id, quantity=q, unit_price_cents=900))
    assert report(db, now=NOW)["market_demand"] == [
        {"product": "Seat", "quantity": 5, "unit_price": 10, "demand": 50},  # (3 + 2) × 10.00
        {"product": "Kit", "quantity": 4, "unit_price": 2.5, "demand": 10},  # 4 × 2.50
    ]


def test_task_figures_on_a_frozen_clock(db):
    with Book(db) as b:

        def task(owner="ann", due=None, done=None, **kw):
            b.add(Task(subject="t", owner=owner, due_at=due, done_at=done, **kw))

        task(due=at(2026, 3, 15, 9))  # overdue
        task(due=at(2026, 3, 16, 10))  # overdue and due today
        task(due=at(2026, 3, 16, 18))  # due today, not yet overdue
        task(due=at(2026, 3, 20))  # upcoming
        task()  # no due date
        task(due=at(2026, 3, 12), done=at(2026, 3, 10))  # done on time
        task(due=at(2026, 3, 13), done=at(2026, 3, 14))  # done late
        task(done=at(2026, 3, 1))  # done, no due date: not in the on-time rate
        task(due=at(2026, 3, 1), deleted_at=NOW)  # deleted
        task(owner="bob", due=at(2026, 3, 2))  # bob's, overdue
    assert report(db, now=NOW)["tasks"] == {"open": 6, "overdue": 3, "due_today": 2, "done": 3, "on_time_rate": 0.5}
    ann = report(db, Filters(owner="ann"), now=NOW)["tasks"]
    assert (ann["open"], ann["overdue"]) == (5, 2)
    # one day later the 18:00 task is overdue too (3 + 1 = 4) and nothing is due "today" (2026-03-17)
    later = report(db, now=NOW + dt.timedelta(days=1))["tasks"]
    assert (later["overdue"], later["due_today"]) == (4, 0)


def test_segments_tell_a_champion_from_a_hibernating_and_a_new_customer(db):
    with Book(db) as b:
        champ, sleepy, fresh, none = b.customer("Champ"), b.customer("Sleepy"), b.customer("Fresh"), b.customer("None")
        for days in (2, 5, 9, 14, 20):  # 5 purchases in the last 30 days, 1,000.00 each
            b.deal("Won", 100000, customer=champ, closed=NOW - dt.timedelta(days=days))
        b.deal("Won", 5000, customer=sleepy, closed=NOW - dt.timedelta(days=700))  # one small, long ago
        b.add(Product(name="P", unit_price_cents=1))
        o = b.add(Order(number="F1", customer_id=fresh.id, status="fulfilled", fulfilled_at=NOW - dt.timedelta(days=3)))
        b.add(OrderLine(order_id=o.id, product_id=1, quantity=1, unit_price_cents=10000))
    segs = customer_segments(db, now=NOW)
    assert segs == {champ.id: "champions", sleepy.id: "hibernating", fresh.id: "new"}
    assert none.id not in segs  # no purchases, no segment
    rows = {s["segment"]: s for s in report(db, now=NOW)["segments"]}
    assert rows["champions"] == {"segment": "champions", "count": 1, "value": 5000}
    assert rows["hibernating"]["value"] == 50 and rows["new"]["value"] == 100
    assert rows["loyal"]["count"] == 0


def test_a_single_customer_gets_a_segment(db):
    with Book(db) as b:
        only = b.customer("Only")
        b.deal("Won", 100, customer=only, closed=NOW - dt.timedelta(days=400))
    assert customer_segments(db, now=NOW) == {only.id: "at risk"}  # R 1, F 1, M 5 (alone at the top)


def test_forecast_by_expected_close_month_and_rotting(db):
    with Book(db) as b:
        b.deal("Lead", 100000, expected_close=dt.date(2026, 5, 10), entered=NOW)  # 100.00 in May
        b.deal("Proposal", 20000, entered=NOW)  # no date: this month, 100.00
        b.deal("Negotiation", 10000, expected_close=dt.date(2026, 1, 5), entered=NOW)  # slipped: this month, 75.00
        b.deal("Won", 999999, closed=NOW, expected_close=dt.date(2026, 4, 1))  # closed: no forecast
        old = b.deal("Lead", 0, entered=NOW - dt.timedelta(days=15))  # Lead rots after 14 days
        b.deal("Lead", 0, entered=NOW - dt.timedelta(days=13))
        b.deal("Won", 1, entered=NOW - dt.timedelta(days=300), closed=NOW)  # closed deals never rot
    assert forecast_by_month(db, now=NOW) == [("2026-03", 17500), ("2026-05", 10000)]
    assert rotting_deal_ids(db, b.pipeline_id, NOW) == {old.id}
    assert forecast_by_month(db, Filters(owner="nobody"), now=NOW) == []


def test_report_has_exactly_the_documented_keys(db):
    with Book(db) as b:
        c = b.customer()
        b.deal("Won", 100, customer=c, closed=NOW, owner="ann")
        b.deal("Lead", 100, owner="ann")
        p = b.add(Product(name="P", unit_price_cents=1))
        b.add(DealProduct(deal_id=2, product_id=p.id, quantity=1))
    r = report(db, now=NOW)
    assert r["currency"] == "USD"  # the home currency every money figure is in (nothing left out: no unconverted)
    assert set(r) == {
        "currency",
        "customers",
        "deals",
        "stages",
        "owners",
        "tasks",
        "orders",
        "market_demand",
        "segments",
        "revenue_by_month",
        "activities",
        "goals",
        "forecast",
    }
    assert r["goals"] == []  # no goal set: the key is there, empty
    assert set(r["forecast"]) == {"months", "categories"} and len(r["forecast"]["months"]) == 6
    assert set(r["forecast"]["categories"]) == {"pipeline", "best_case", "commit", "closed"}
    assert set(r["forecast"]["months"][0]) == {"month", "weighted", "learned", "low", "high"}
    assert set(r["customers"]) == {"count", "value"}
    assert set(r["deals"]) == {
        "open_count",
        "open_value",
        "weighted_value",
        "won_count",
        "won_value",
        "lost_count",
        "lost_value",
        "win_rate",
        "win_rate_by_value",
        "avg_won_value",
        "avg_cycle_days",
        "velocity_per_day",
    }
    assert {frozenset(s) for s in r["stages"]} == {
        frozenset({"name", "kind", "count", "value", "weighted_value", "conversion"})
    }
    assert {frozenset(o) for o in r["owners"]} == {
        frozenset({"owner", "open_count", "won_count", "won_value", "lost_count", "win_rate"})
    }
    assert set(r["tasks"]) == {"open", "overdue", "due_today", "done", "on_time_rate"}
    assert set(r["orders"]) == {"count", "value"}
    assert {frozenset(m) for m in r["market_demand"]} == {frozenset({"product", "quantity", "unit_price", "demand"})}
    assert {frozenset(s) for s in r["segments"]} == {frozenset({"segment", "count", "value"})}
    assert {frozenset(m) for m in r["revenue_by_month"]} == {frozenset({"month", "won_value"})}
    assert set(r["activities"]) == {"total", "by_kind", "by_owner", "outcomes"}
    assert set(r["activities"]["by_kind"]) == {"call", "email", "meeting", "todo"}
    assert {frozenset(o) for o in r["activities"]["outcomes"]} == {frozenset({"outcome", "count", "share"})}


def test_segments_follow_the_documented_rfm_rules_for_a_whole_demo_book(any_db):
    """Every purchasing customer of a demo book scored by the rules in metrics.segments, done
    here by hand from the purchases themselves: R and F by fixed thresholds, M by quintile of
    the customer's monetary rank (ties share the higher rank)."""
    import math

    from crm_tui import demo
    from crm_tui.metrics._common import load_stages
    from crm_tui.metrics.book import purchases

    demo.generate(any_db, size=300, seed=11, now=NOW)
    with any_db.read() as session:
        conn = session.connection()
        p = purchases(load_stages(conn))
        bought: dict[int, list] = {}
        for customer_id, at, value in conn.execute(select(p.c.customer_id, p.c.at, p.c.value)):
            if isinstance(at, str):
                at = dt.datetime.fromisoformat(at)
            bought.setdefault(customer_id, []).append((at.replace(tzinfo=at.tzinfo or UTC), int(value or 0)))
    assert len(bought) > 50  # enough customers to fill every quintile
    monetary = {c: sum(v for _a, v in rows) for c, rows in bought.items()}
    expected = {}
    for c, rows in bought.items():
        days = (NOW - max(a for a, _v in rows)).total_seconds() / 86400
        r = 5 if days <= 30 else 4 if days <= 90 else 3 if days <= 180 else 2 if days <= 365 else 1
        n = len(rows)
        f = 1 if n <= 1 else 2 if n <= 2 else 3 if n <= 3 else 4 if n <= 5 else 5
        at_most = sum(1 for other in monetary.values() if other <= monetary[c])
        m = math.ceil(5 * at_most / len(monetary))
        expected[c] = (
            "champions"
            if r >= 4 and f >= 4 and m >= 4
            else "new"
            if r >= 4 and f == 1
            else "loyal"
            if r >= 3 and f >= 3
            else "potential"
            if r >= 3
            else "at risk"
            if f >= 3 or m >= 4
            else "hibernating"
        )
    assert customer_segments(any_db, now=NOW) == expected
    assert len(set(expected.values())) >= 4
    rows = {s["segment"]: (s["count"], s["value"]) for s in report(any_db, now=NOW)["segments"]}
    for name in set(expected.values()):
        members = [c for c, seg in expected.items() if seg == name]
        assert rows[name][0] == len(members)
        assert round(rows[name][1] * 100) == sum(monetary[c] for c in members)
