"""Every figure of the CRM (DESIGN §2 and §4), computed in the database.

``report(db, filters, now=...)`` returns the JSON shape of DESIGN §5; the TUI
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

from crm_tui.metrics._common import Filters
from crm_tui.metrics.deals import (
    StageSummary,
    forecast_by_month,
    rotting_deal_ids,
    stage_summaries,
)
from crm_tui.metrics.segments import SEGMENTS, customer_segments

__all__ = [
    "Filters",
    "SEGMENTS",
    "StageSummary",
    "customer_segments",
    "forecast_by_month",
    "report",
    "rotting_deal_ids",
    "stage_summaries",
]


def report(db, filters: Filters = Filters(), *, now: dt.datetime | None = None) -> dict:
    """All report figures (DESIGN §5) in one read transaction, so they agree with each other."""
    from crm_tui.metrics import book, deals, segments
    from crm_tui.metrics._common import load_stages, utc_now

    now = utc_now(now)
    with db.read() as session:
        conn = session.connection()
        dialect = db.dialect
        stages = load_stages(conn)
        cells = deals.grouped_cells(conn, dialect, stages, filters)
        furthest = deals.furthest_counts(conn, stages, filters)
        return {
            "customers": book.customer_totals(conn, stages),
            "deals": deals.deal_totals(stages, cells),
            "stages": deals.stage_rows(stages, cells, furthest),
            "owners": deals.owner_rows(stages, cells),
            "tasks": book.task_totals(conn, filters, now),
            "orders": book.order_totals(conn, filters),
            "market_demand": book.market_demand(conn, stages, filters),
            "segments": segments.segment_rows(conn, stages, now),
            "revenue_by_month": deals.revenue_by_month(conn, dialect, stages, filters),
        }
