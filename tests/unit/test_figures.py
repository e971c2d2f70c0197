"""The report's exact figures (metrics.figures): integer cents, cent-percent and Decimal cents for
the screen; ``json()`` the report's JSON shape (major units)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crm_tui.metrics import Filters, ReportFigures, report, report_figures, report_sections
from crm_tui.metrics.figures import DealFigures

NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=dt.UTC)


def deals(**kw: object) -> DealFigures:
    base: dict[str, object] = dict(
        open_count=0,
        open_cents=0,
        weighted_cp=0,
        won_count=0,
        won_cents=0,
        lost_count=0,
        lost_cents=0,
        cycle_days_total=0.0,
        cycle_count=0,
    )
    return DealFigures(**{**base, **kw})


def test_fractional_figures_stay_exact_until_shown():
    d = deals(weighted_cp=6734512500 + 50, won_count=2, won_cents=3, cycle_days_total=3.0, cycle_count=2)
    assert d.weighted_cents == Decimal("67345125.50")
    assert d.avg_won_cents == Decimal("1.5")  # 0.015: shown as 0.02, and so in the JSON
    assert d.json()["avg_won_value"] == 0.02
    assert d.json()["weighted_value"] == 673451.255


def test_velocity_is_open_times_rate_times_average_over_cycle():
    # 10 open × 3/4 × 1,000.00 ÷ 2.5 days = 3,000.00 a day
    d = deals(open_count=10, won_count=3, lost_count=1, won_cents=300000, cycle_days_total=7.5, cycle_count=3)
    assert d.velocity_cents == Decimal(300000)
    assert d.json()["velocity_per_day"] == 3000.0
    assert deals(open_count=1, won_count=1, won_cents=1, cycle_count=1, cycle_days_total=0.001).velocity_cents is None
    assert deals(open_count=1, lost_count=1).velocity_cents is None


def test_an_unfinished_report_has_no_json_shape():
    with pytest.raises(ValueError, match="not complete"):
        ReportFigures().json()


def test_the_sections_and_the_report_agree(services, db):
    won = services.create_deal("won", amount="0.01", owner="ann")
    services.win_deal(won.id)
    services.create_deal("open", amount="0.03", probability=50, owner="bob")
    figures = report_figures(db, Filters(), now=NOW)
    whole = report(db, now=NOW)
    goals = whole.pop("goals")  # the goals and the forecast are read beside the sections, not one of them
    forecast = whole.pop("forecast")
    assert forecast["categories"] == {"pipeline": 0, "best_case": 0, "commit": 0, "closed": 0.01}
    assert goals == [] and figures.complete and figures.json() == whole
    assert figures.deals is not None and figures.deals.weighted_cents == Decimal("1.5")
    keys = [key for key, _f in report_sections(db, now=NOW)]
    added = {"goals", "forecast", "currency"}  # beside the sections: not one of them
    assert sorted(keys) == sorted(k for k in report(db, now=NOW) if k not in added)
