"""The learned forecast and its backtest on a hand-made history (both engines), figures worked out
here; a later change to a closed deal's amount leaves every past month's forecast as it was.

Default "Sales" pipeline: Lead 10%, Qualified 25%, Proposal 50%, Negotiation 75%, Won, Lost.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import select

from crm_tui.metrics.forecast import Z80, backtest, forecast_months
from crm_tui.models import Deal, Stage, StageChange

UTC = dt.UTC
NOW = dt.datetime(2026, 5, 10, 12, tzinfo=UTC)


def at(m, d):
    return dt.datetime(2026, m, d, 9, tzinfo=UTC)


def make_book(db):
    """A: 1,000 won in Feb · B: 3,000 lost in Feb · C: 500 opened and won in Feb · D: 2,000 opened
    in Feb, Qualified on Feb 25, Proposal on Apr 1, still open · E: 4,000 opened Feb 20, won Mar 10."""
    with db.read() as s:
        stage = {st.name: st for st in s.execute(select(Stage)).scalars()}
    ids = {}
    with db.write({"deal", "stage_change"}) as s:

        def deal(name, cents, created, moves, closed=None):
            last = moves[-1][0]
            d = Deal(
                title=name,
                pipeline_id=stage[last].pipeline_id,
                stage_id=stage[last].id,
                amount_cents=cents,
                created_at=created,
                stage_entered_at=moves[-1][1],
                closed_at=closed,
            )
            s.add(d)
            s.flush()
            frm = None
            for to, when in moves:
                s.add(StageChange(deal_id=d.id, from_stage_id=frm, to_stage_id=stage[to].id, at=when, by="ann"))
                frm = stage[to].id
            ids[name] = d.id

        deal("A", 100000, at(1, 10), [("Lead", at(1, 10)), ("Won", at(2, 15))], closed=at(2, 15))
        deal("B", 300000, at(1, 12), [("Lead", at(1, 12)), ("Lost", at(2, 20))], closed=at(2, 20))
        deal("C", 50000, at(2, 5), [("Lead", at(2, 5)), ("Won", at(2, 25))], closed=at(2, 25))
        deal("D", 200000, at(2, 10), [("Lead", at(2, 10)), ("Qualified", at(2, 25)), ("Proposal", at(4, 1))])
        deal("E", 400000, at(2, 20), [("Lead", at(2, 20)), ("Won", at(3, 10))], closed=at(3, 10))
    return ids


def test_backtest_on_a_hand_made_history(db):
    make_book(db)
    bt = backtest(db, months=3, now=NOW)
    # the last month scored is March (the last month anything was won in)
    rows = {m.month: m for m in bt.months}
    assert list(rows) == ["2026-01", "2026-02", "2026-03"]
    jan, feb, mar = rows["2026-01"], rows["2026-02"], rows["2026-03"]
    assert (jan.actual_cents, jan.learned_cents, jan.baseline_cents) == (0, 0, 0)  # nothing open, nothing won
    # Feb 1: A and B open in Lead (10%) → 400.00; no month has been won yet to learn from: the baseline
    assert (feb.actual_cents, feb.baseline_cents, feb.learned_cents) == (150000, 40000, 40000)
    # Mar 1: D in Qualified then (25%, not its Proposal of now), E in Lead → 500 + 400
    assert mar.baseline_cents == 90000
    # learned from February: of the 4,000 open on Feb 1 (A, B), 1,000 was won in Feb → yield ¼;
    # C, opened and won within February, adds 500 → (2,000 + 4,000) × ¼ + 500 = 2,000
    assert mar.learned_cents == 200000 and mar.actual_cents == 400000
    sd = math.sqrt(0.25 * 0.75 * (200000**2 + 400000**2))
    assert (mar.low_cents, mar.high_cents) == (0, round(200000 + Z80 * sd))
    # errors over the months that won something: Feb −1,100/1,500, Mar −2,000/4,000 (learned) and −3,100/4,000
    assert bt.learned.mape == round((1100 / 1500 + 0.5) / 2, 4) and bt.learned.bias == -bt.learned.mape
    assert bt.baseline.mape == round((1100 / 1500 + 3100 / 4000) / 2, 4)
    assert bt.json() == {
        "months": [
            {"month": "2026-01", "actual": 0, "learned": 0, "baseline": 0},
            {"month": "2026-02", "actual": 1500, "learned": 400, "baseline": 400},
            {"month": "2026-03", "actual": 4000, "learned": 2000, "baseline": 900},
        ],
        "overall": {
            "learned": {"mape": 0.6167, "bias": -0.6167},
            "baseline": {"mape": 0.7542, "bias": -0.7542},
        },
    }


def test_learned_forecast_of_this_month(db):
    make_book(db)
    may = forecast_months(db, months=2, now=NOW)[0]
    assert may.month == "2026-05"
    # month starts Feb, Mar, Apr: open 4,000 + 6,000 + 2,000 (D alone on Apr 1), won 1,000 + 4,000 + 0 → 5/12;
    # opened and won within the month: 500, 0, 0 → 166.67 a month. D (2,000) open now: 833.33 + 166.67
    assert may.learned_cents == 100000
    fresh = [50000, 0, 0]
    mean = sum(fresh) / 3
    var = 200000**2 * (5 / 12) * (7 / 12) + sum((f - mean) ** 2 for f in fresh) / 2
    assert (may.low_cents, may.high_cents) == (0, round(100000 + Z80 * math.sqrt(var)))  # never below 0
    assert may.weighted_cents == 100000  # D in Proposal now: 2,000 × 50%


def test_a_later_change_to_a_closed_deals_amount_changes_no_past_forecast(db, clock):
    from crm_tui.services import Services

    ids = make_book(db)
    before = backtest(db, months=3, now=NOW)
    clock.now = NOW
    services = Services(db, user="ann", clock=clock)
    services.update_deal(ids["A"], amount="9000.00")  # won in Feb for 1,000; edited in May
    services.update_deal(ids["B"], amount="0")  # lost: the amount rewritten to 0 afterwards
    after = backtest(db, months=3, now=NOW)
    assert [(m.learned_cents, m.baseline_cents, m.low_cents, m.high_cents) for m in after.months] == [
        (m.learned_cents, m.baseline_cents, m.low_cents, m.high_cents) for m in before.months
    ]
    assert after.months[1].actual_cents == before.months[1].actual_cents + 800000  # what was won is as it is now


def test_the_backtest_says_which_way_the_learned_forecast_compares():
    """A learned forecast worse than the baseline was printed as "-6.7 points lower"."""
    from crm_tui.cli_forecast import compared

    assert compared(0.235, 0.302) == "the learned forecast's error is 6.7 points lower than the baseline's"
    assert compared(0.302, 0.235) == "the learned forecast's error is 6.7 points higher than the baseline's"
    assert compared(0.3, 0.3) == "the learned forecast's error is the same as the baseline's"
