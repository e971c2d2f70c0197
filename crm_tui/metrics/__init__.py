"""Every figure of the CRM (DESIGN §2 and §4), computed in the database.

``report(db, filters, now=...)`` returns the JSON shape of DESIGN §5; ``report_figures`` the
same figures exact (``metrics.figures``: integer cents, what a screen formats), and
``report_sections`` yields them a section at a time, for a screen that shows each as it comes;
the TUI also calls the single-query pieces (``stage_summaries``, ``rotting_deal_ids``,
``forecast_by_month``, ``customer_segments``) for kanban headers and tiles, and
``activity_figures`` gives the activities done per owner and kind and their outcome mix
(``metrics.activities``) alone.

Conventions, everywhere:

- Soft-deleted deals, customers, tasks and orders' deleted customers never count.
- Open deals are those in an open stage (any age); closed figures (won, lost,
  win rates, cycle, revenue) count deals in a won/lost stage whose
  ``closed_at`` UTC date lies in ``Filters.since..until`` (inclusive).
- Activities are tasks with ``done_at`` set (any kind), counted when the UTC date of
  ``done_at`` lies in ``Filters.since..until``; open tasks are not activities.
- ``Filters.owner`` limits deal, task, activity and order figures; customer count and
  value (C, V) and segments describe the whole book.
- "now" is ``now`` or the clock, in UTC; "today" is its UTC date.
- Money is exact integer cents (a weighted value cent-percent, an average or velocity a
  ``Decimal`` of cents) until ``ReportFigures.json()`` makes it a JSON number in major units.
- A rate is a float 0..1 rounded to 4 decimals, or ``None`` (JSON null) when
  it is undefined (nothing to divide by); averages and velocity likewise.
- ``stages`` lists every pipeline's stages, pipelines and stages in position
  order (a stage name may repeat across pipelines). Open stages show their
  open deals, won/lost stages their deals closed in the period; a won
  stage's weighted value is its value, a lost stage's is 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from dataclasses import replace
from typing import TYPE_CHECKING, get_args

from crm_tui.metrics._common import Filters
from crm_tui.metrics.activities import ActivityFigures, activity_figures
from crm_tui.metrics.deals import (
    StageSummary,
    forecast_by_month,
    rotting_deal_ids,
    stage_summaries,
)
from crm_tui.metrics.figures import ReportFigures, SectionKey
from crm_tui.metrics.segments import SEGMENTS, customer_segments
from crm_tui.textnorm import cents_to_major

if TYPE_CHECKING:
    from crm_tui.db import Database
    from crm_tui.metrics.shapes import ForecastMonth, ForecastSection, Report

__all__ = [
    "ActivityFigures",
    "Filters",
    "ReportFigures",
    "SEGMENTS",
    "SectionKey",
    "StageSummary",
    "activity_figures",
    "customer_segments",
    "forecast_by_month",
    "REPORT_KEYS",
    "report",
    "report_figures",
    "report_sections",
    "rotting_deal_ids",
    "stage_summaries",
]


#: the report's sections in the order of DESIGN §5 (the JSON shape): the section keys, written once
REPORT_KEYS: tuple[SectionKey, ...] = get_args(SectionKey)


def report_sections(
    db: Database, filters: Filters = Filters(), *, now: dt.datetime | None = None
) -> Generator[tuple[SectionKey, ReportFigures], None, None]:
    """The report a section at a time, all from one read transaction so the sections agree
    with each other: ``(key, figures)`` — the section just computed and every section so far,
    exact (integer cents; ``ReportFigures.json()`` is the JSON shape). First what the Reports
    screen's tiles and owners table need, then the charts', the funnel's and the segments'
    (the slowest, the activities just before them), and the task figures the screen does not
    show, so a screen can show each as it comes."""
    from crm_tui.metrics import activities, book, deals, segments
    from crm_tui.metrics._common import load_stages, utc_now
    from crm_tui.money import Converter, load_rates_conn

    now = utc_now(now)
    with db.read() as session:
        conn = session.connection()
        dialect = db.dialect
        stages = load_stages(conn)
        conv = Converter(load_rates_conn(conn))  # money sums per currency, converted to the home one

        def noted(f: ReportFigures) -> ReportFigures:
            return replace(f, currency=conv.home, unconverted=frozenset(conv.missing))

        cells = deals.grouped_cells(conn, dialect, stages, filters, conv)
        f = noted(ReportFigures(deals=deals.deal_totals(stages, cells)))
        yield "deals", f
        f = replace(f, owners=deals.owner_rows(stages, cells))
        yield "owners", f
        f = noted(replace(f, customers=book.customer_totals(conn, stages, conv)))
        yield "customers", f
        f = noted(replace(f, orders=book.order_totals(conn, filters, conv)))
        yield "orders", f
        f = noted(replace(f, market_demand=book.market_demand(conn, stages, filters, conv)))
        yield "market_demand", f
        f = noted(replace(f, revenue_by_month=deals.revenue_by_month(conn, dialect, stages, filters, conv)))
        yield "revenue_by_month", f
        furthest = deals.furthest_counts(conn, stages, filters)
        f = replace(f, stages=deals.stage_rows(stages, cells, furthest))
        yield "stages", f
        f = replace(f, activities=activities.activity_totals(conn, filters))
        yield "activities", f
        f = noted(replace(f, segments=segments.segment_rows(conn, stages, now, conv, memo=db.memo)))
        yield "segments", f
        f = replace(f, tasks=book.task_totals(conn, filters, now))
        yield "tasks", f


def report_figures(db: Database, filters: Filters = Filters(), *, now: dt.datetime | None = None) -> ReportFigures:
    """Every report figure, exact (integer cents), in one read transaction."""
    *_, (_key, figures) = report_sections(db, filters, now=now)  # the last holds every section
    return figures


def report(db: Database, filters: Filters = Filters(), *, now: dt.datetime | None = None) -> Report:
    """All report figures (DESIGN §5) in one read transaction, so they agree with each other:
    the JSON shape, money in major units, and ``goals``: each live goal's progress in its
    period containing ``now`` (the owner's goals when ``filters.owner`` is set)."""
    from crm_tui.metrics.goals import goal_progress

    out = report_figures(db, filters, now=now).json()
    out["goals"] = [g.json() for g in goal_progress(db, now=now, owner=filters.owner, takes=False)]
    out["forecast"] = forecast_section(db, now=now, owner=filters.owner)
    return out


def forecast_section(db: Database, *, now: dt.datetime | None = None, owner: str | None = None) -> ForecastSection:
    """The report's ``forecast``: the next six months, stage-weighted beside the forecast learned
    from the whole book's history with its 80% range (``metrics.forecast``), and this month's
    forecast by category (``metrics.categories``; the owner's deals when ``owner`` is set)."""
    from crm_tui.metrics.categories import category_forecast
    from crm_tui.metrics.forecast import forecast_months

    with db.read() as session:
        categories = category_forecast(session, now=now, owner=owner)
    months: list[ForecastMonth] = [
        {
            "month": m.month,
            "weighted": cents_to_major(m.weighted_cents),
            "learned": cents_to_major(m.learned_cents),
            "low": cents_to_major(m.low_cents),
            "high": cents_to_major(m.high_cents),
        }
        for m in forecast_months(db, months=6, now=now)
    ]
    return {"months": months, "categories": categories.json()}
