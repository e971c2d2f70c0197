"""Forecast categories: the default from a deal's probability, the rep's own call (journaled,
undone), and the month's forecast by category in the home currency, worked out here."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm_tui.errors import ValidationError
from crm_tui.metrics.categories import category_forecast, default_category, next_category
from crm_tui.models import CurrencyRate, Deal, Stage
from crm_tui.services import Services


def test_default_category_follows_probability_and_the_key_cycles():
    assert [default_category(p) for p in (0, 10, 49, 50, 74, 75, 100, None)] == [
        "pipeline", "pipeline", "pipeline", "best_case", "best_case", "commit", "commit", "pipeline",
    ]  # fmt: skip
    assert [next_category(c) for c in ("pipeline", "best_case", "commit", "")] == [
        "best_case", "commit", "pipeline", "pipeline",
    ]  # fmt: skip


def test_month_forecast_by_category_converted_and_the_reps_call(db):
    s = Services(db, user="ann")
    with db.read() as session:
        stage = {st.name: st.id for st in session.execute(select(Stage)).scalars()}
    with db.write({"currency_rate"}) as session:
        session.add(CurrencyRate(currency="EUR", rate="1.25"))
    today = dt.date.today()
    nxt = today + dt.timedelta(days=45)
    past = today.replace(day=1) - dt.timedelta(days=3)

    def deal(title, where, amount, close=today, **kw):
        return s.create_deal(title, amount=amount, stage_id=stage[where], expected_close=close, **kw).id

    deal("A lead", "Lead", "1000")  # 10%: pipeline
    deal("B proposal", "Proposal", "2000")  # 50%: best case
    deal("C negotiation", "Negotiation", "3000")  # 75%: commit
    d = deal("D euro lead", "Lead", "400", currency="EUR")  # 400 EUR = 500.00 at 1.25
    deal("E next month", "Proposal", "9999", close=nxt)  # after the month: not in it
    deal("F overdue", "Qualified", "700", close=past)  # still expected: this month, pipeline
    deal("G undated", "Lead", "123", close=None)  # in no period
    deal("H high override", "Lead", "50", probability=80)  # its own 80%: commit
    won = deal("I won", "Proposal", "5000")
    s.win_deal(won)

    s.set_forecast_category(d, "Commit")
    with db.read() as session:
        f = category_forecast(session)
    assert f.cents == {"pipeline": 170000, "best_case": 200000, "commit": 355000, "closed": 500000}
    assert f.counts == {"pipeline": 2, "best_case": 1, "commit": 3, "closed": 1}
    assert f.undated == 1 and f.currency == "USD" and not f.missing
    assert f.json() == {"pipeline": 1700, "best_case": 2000, "commit": 3550, "closed": 5000}

    s.undo()  # the rep's call is taken back: the euro lead is pipeline again
    with db.read() as session:
        assert session.get(Deal, d).forecast_category is None
        assert category_forecast(session).cents["commit"] == 305000

    with pytest.raises(ValidationError, match="forecast category must be pipeline, best case or commit"):
        s.set_forecast_category(d, "maybe")
    with pytest.raises(ValidationError, match="closed deal's forecast category is its outcome"):
        s.set_forecast_category(won, "commit")
    s.set_forecast_category(d, "best case")
    s.set_forecast_category(d, "")
    with db.read() as session:
        assert session.get(Deal, d).forecast_category is None


def test_categories_export_and_import_as_salesforce_writes_them(db, tmp_path):
    from crm_tui.io import export_kind, import_file

    s = Services(db, user="ann")
    a = s.create_deal("Alpha", amount="100")
    s.create_deal("Beta", amount="200")
    s.set_forecast_category(a.id, "commit")
    out = tmp_path / "deals.csv"
    export_kind(db, "deals", str(out), "csv")
    header, *rows = out.read_text().splitlines()
    assert header.endswith(",forecast_category") and rows[0].endswith(",commit") and rows[1].endswith(",")
    again = import_file(db, "deals", out)
    assert (again.created, again.rejected) == (0, 0)
    sf = tmp_path / "opps.csv"
    sf.write_text(
        "Id,Name,StageName,Amount,ForecastCategoryName\n"
        "006A,Gamma,Prospecting,10,Best Case\n006B,Delta,Prospecting,20,Omitted\n006C,Eps,Prospecting,30,Maybe\n"
    )
    r = import_file(db, "deals", sf)
    assert (r.created, r.rejected) == (2, 1)
    with db.read() as session:
        got = dict(session.execute(select(Deal.title, Deal.forecast_category)).all())
    assert got == {"Alpha": "commit", "Beta": None, "Gamma": "best_case", "Delta": None}
