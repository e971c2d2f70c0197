"""Every figure of the CRM (DESIGN §2 and §4), computed in the database.

``report(db, filters, now=...)`` returns the JSON shape of DESIGN §5 (``report_sections``
yields it a section at a time, for a screen that shows each as it comes); the TUI
also calls the single-query pieces (``stage_summaries``, ``rotting_deal_ids``,
``forecast_by_month``, ``customer_segments``) for kanban headers and tiles.

Conventions, everywhere:

- Soft-deleted deals, customers, tasks and orders' deleted customers never count.
- Open deals are those in an open stage (any age); closed figures (won, lost,
  win rates, cycle, revenue) count deals in a won/lost stage whose
  ``closed_at`` UTC date lies in ``Filters.since..until`` (inclusive).
- ``Filters.owner`` limits deal, task and order figures; customer count and
  value (C, V) and segments describe the whole book.
- "now" is ``now`` or the clock, in UTC; "today" is its UTC date.
- Money is exact integer cents until it becomes a JSON number in major units.
- A rate is a float 0..1 rounded to 4 decimals, or ``None`` (JSON null) when
  it is undefined (nothing to divide by); averages and velocity likewise.
- ``stages`` lists every pipeline's stages, pipelines and stages in position
  order (a stage name may repeat across pipelines). Open stages show their
  open deals, won/lost stages their deals closed in the period; a won
  stage's weighted value is its value, a lost stage's is 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from crm_tui.metrics._common import Filters
from crm_tui.metrics.deals import (
    StageSummary,
    forecast_by_month,
    rotting_deal_ids,
    stage_summaries,
)
from crm_tui.metrics.segments import SEGMENTS, customer_segments

if TYPE_CHECKING:
    from crm_tui.db import Database
    from crm_tui.metrics.shapes import Report

__all__ = [
    "Filters",
    "SEGMENTS",
    "StageSummary",
    "customer_segments",
    "forecast_by_month",
    "REPORT_KEYS",
    "report",
    "report_sections",
    "rotting_deal_ids",
    "stage_summaries",
]


#: the report's sections in the order of DESIGN §5 (the JSON shape)
REPORT_KEYS = (
    "customers",
    "deals",
    "stages",
    "owners",
    "tasks",
    "orders",
    "market_demand",
    "segments",
    "revenue_by_month",
)


def report_sections(
    db: Database, filters: Filters = Filters(), *, now: dt.datetime | None = None
) -> Iterator[tuple[str, object]]:
    """The report's sections one at a time, ``(key, value)``, all from one read transaction so
    they agree with each other: first what the Reports screen's tiles and owners table need,
    then the charts', the funnel's and the segments' (the slowest), and the task figures the
    screen does not show (at 100k customers the tiles' figures take ~1.2 s of ~3 s), so a
    screen can show each as it comes."""
    from crm_tui.metrics import book, deals, segments
    from crm_tui.metrics._common import load_stages, utc_now

    now = utc_now(now)
    with db.read() as session:
        conn = session.connection()
        dialect = db.dialect
        stages = load_stages(conn)
        cells = deals.grouped_cells(conn, dialect, stages, filters)
        yield "deals", deals.deal_totals(stages, cells)
        yield "owners", deals.owner_rows(stages, cells)
        yield "customers", book.customer_totals(conn, stages)
        yield "orders", book.order_totals(conn, filters)
        yield "market_demand", book.market_demand(conn, stages, filters)
        yield "revenue_by_month", deals.revenue_by_month(conn, dialect, stages, filters)
        furthest = deals.furthest_counts(conn, stages, filters)
        yield "stages", deals.stage_rows(stages, cells, furthest)
        yield "segments", segments.segment_rows(conn, stages, now)
        yield "tasks", book.task_totals(conn, filters, now)


def report(db: Database, filters: Filters = Filters(), *, now: dt.datetime | None = None) -> Report:
    """All report figures (DESIGN §5) in one read transaction, so they agree with each other."""
    parts = dict(report_sections(db, filters, now=now))
    # each section comes from the function typed for it (report_sections yields them untyped)
    return cast("Report", {key: parts[key] for key in REPORT_KEYS})
