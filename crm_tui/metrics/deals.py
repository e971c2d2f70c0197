"""Deal figures: totals, stages with conversion, owners, revenue and forecast.

Each function is one grouped SQL query (plus the tiny stage list); Python
only folds the grouped rows (stages × owners), never the deals themselves.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func, literal, literal_column, or_, select

from crm_tui import kept
from crm_tui.columns import bigint, col, pk
from crm_tui.kept_sql import WON_REACH
from crm_tui.metrics._common import (
    Filters,
    StageInfo,
    counted_deal,
    cp_to_cents,
    ids_by_outcome,
    live_deal,
    load_stages,
    owner_cond,
    per_engine,
    rate,
    utc_now,
    weighted_cent_pct,
)
from crm_tui.metrics.figures import DealFigures, MonthFigures, OwnerFigures, StageFigures
from crm_tui.models import Deal, StageChange
from crm_tui.money import Converter, load_rates_conn

if TYPE_CHECKING:
    from sqlalchemy import Connection, Label
    from sqlalchemy.engine import Dialect

    from crm_tui.db import Database

# A won deal's "furthest stage": beyond every open stage.
_ALL_OPEN = WON_REACH


@dataclass(frozen=True)
class StageSummary:
    """One kanban column header: open deals in an open stage, period deals in a closed one."""

    stage_id: int
    name: str
    outcome: str
    count: int
    value_cents: int
    weighted_cents: int


@dataclass
class _Cell:
    count: int = 0
    value: int = 0
    override_cp: int = 0
    default_amount: int = 0
    cycle_days: float = 0.0
    cycle_n: int = 0

    def add(self, other: _Cell) -> None:
        self.count += other.count
        self.value += other.value
        self.override_cp += other.override_cp
        self.default_amount += other.default_amount
        self.cycle_days += other.cycle_days
        self.cycle_n += other.cycle_n


def converter(conn: Connection, conv: Converter | None) -> Converter:
    """``conv``, or one on the database's rates (a figure asked for alone)."""
    return conv if conv is not None else Converter(load_rates_conn(conn))


def _in_home(conv: Converter, currency: str, n: int, value: int, ocp: int, damt: int) -> _Cell:
    """One currency's sums of a group in home minor units (the deal count whatever the rate:
    a deal without a rate still counts as a deal; its money is left out and named)."""
    if not conv.known(currency):
        return _Cell(int(n))
    return _Cell(
        int(n), conv.cents(int(value), currency), conv.cents(int(ocp), currency), conv.cents(int(damt), currency)
    )


def _weight_sums() -> tuple[Label[int], Label[int], Label[int], Label[int]]:
    override_cp = bigint(col(Deal.amount_cents)) * col(Deal.probability)  # 214,748.37 at 100% passes 32 bits
    return (
        func.count().label("n"),
        func.coalesce(func.sum(col(Deal.amount_cents)), 0).label("value"),
        func.coalesce(
            func.sum(case((col(Deal.probability).is_not(None), override_cp), else_=0)),
            0,
        ).label("override_cp"),
        func.coalesce(func.sum(case((col(Deal.probability).is_(None), col(Deal.amount_cents)), else_=0)), 0).label(
            "default_amount"
        ),
    )


def _period(filters: Filters) -> tuple[str | None, str | None]:
    """The period as inclusive 'YYYY-MM-DD' bounds of the kept figures' day (None: unbounded)."""
    since = filters.since.isoformat() if filters.since is not None else None
    until = filters.until.isoformat() if filters.until is not None and filters.until < dt.date.max else None
    return since, until


def grouped_cells(
    conn: Connection, dialect: Dialect, stages: list[StageInfo], filters: Filters, conv: Converter | None = None
) -> dict[tuple[int, str], _Cell]:
    """(stage_id, owner) → sums over counted deals in the home currency, from the figures the
    database keeps (``crm_tui.kept``: a few cells per stage, owner, currency and day), each
    currency's sums converted once."""
    conv = converter(conn, conv)
    ids = ids_by_outcome(stages)
    won = set(ids["won"])
    cells: dict[tuple[int, str], _Cell] = {}
    rows = kept.deal_cells(conn, ids["open"], ids["won"] + ids["lost"], *_period(filters), filters.owner)
    for stage_id, owner, currency, n, value, ocp, damt, csecs, cn in rows:
        cell = _in_home(conv, currency, n, value, ocp, damt)
        if stage_id in won:  # the cycle is a won deal's (created → won)
            cell.cycle_days, cell.cycle_n = csecs / 86400, cn
        cells.setdefault((stage_id, owner), _Cell()).add(cell)
    return cells


def deal_totals(stages: list[StageInfo], cells: Mapping[tuple[int, str], _Cell]) -> DealFigures:
    """The ``deals`` section of the report from the grouped cells."""
    by_id = {s.id: s for s in stages}
    t: defaultdict[str, int] = defaultdict(int)
    cycle_days = 0.0
    for (stage_id, _owner), c in cells.items():
        stage = by_id.get(stage_id)
        if stage is None:
            continue
        kind = stage.outcome
        t[kind + "_n"] += c.count
        t[kind + "_v"] += c.value
        if kind == "open":
            t["open_cp"] += weighted_cent_pct(c.override_cp, c.default_amount, stage.probability)
        elif kind == "won":
            cycle_days += c.cycle_days
            t["cycle_n"] += c.cycle_n
    return DealFigures(
        open_count=t["open_n"],
        open_cents=t["open_v"],
        weighted_cp=t["open_cp"],
        won_count=t["won_n"],
        won_cents=t["won_v"],
        lost_count=t["lost_n"],
        lost_cents=t["lost_v"],
        cycle_days_total=cycle_days,
        cycle_count=t["cycle_n"],
    )


def owner_rows(stages: list[StageInfo], cells: Mapping[tuple[int, str], _Cell]) -> tuple[OwnerFigures, ...]:
    """The ``owners`` section: per owner, biggest won value first."""
    by_id = {s.id: s for s in stages}
    acc: dict[str, dict[str, int]] = defaultdict(lambda: {"open": 0, "won": 0, "won_v": 0, "lost": 0})
    for (stage_id, owner), c in cells.items():
        stage = by_id.get(stage_id)
        if stage is None:
            continue
        a = acc[owner or ""]
        a[stage.outcome] += c.count
        if stage.outcome == "won":
            a["won_v"] += c.value
    ranked = sorted(acc.items(), key=lambda kv: (-kv[1]["won_v"], -kv[1]["open"], kv[0]))
    return tuple(OwnerFigures(owner, a["open"], a["won"], a["won_v"], a["lost"]) for owner, a in ranked)


def stage_figures(stages: list[StageInfo], cells: Mapping[tuple[int, str], _Cell]) -> dict[int, tuple[int, int, int]]:
    """stage_id → (count, value cents, weighted cent-percent)."""
    out: dict[int, list[int]] = {s.id: [0, 0, 0] for s in stages}
    by_id = {s.id: s for s in stages}
    for (stage_id, _owner), c in cells.items():
        if stage_id not in out:
            continue
        stage = by_id[stage_id]
        if stage.outcome == "open":
            wcp = weighted_cent_pct(c.override_cp, c.default_amount, stage.probability)
        elif stage.outcome == "won":
            wcp = c.value * 100  # a won deal is worth its whole amount
        else:
            wcp = 0  # a lost deal is worth nothing
        f = out[stage_id]
        f[0] += c.count
        f[1] += c.value
        f[2] += wcp
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def furthest_counts(conn: Connection, stages: list[StageInfo], filters: Filters) -> dict[tuple[int, int], int]:
    """(pipeline_id, furthest open position reached) → number of counted deals, from the reach the
    database keeps (``crm_tui.kept``); read from the history while a stage reorder is settling."""
    ids = ids_by_outcome(stages)
    rows = kept.reach_counts(conn, ids["open"], ids["won"] + ids["lost"], *_period(filters), filters.owner)
    if rows is None:
        return _furthest_from_history(conn, stages, filters)
    pipeline_of = {s.id: s.pipeline_id for s in stages}
    out: dict[tuple[int, int], int] = defaultdict(int)
    for stage_id, reach, n in rows:
        out[(pipeline_of[stage_id], reach)] += n
    return dict(out)


def _furthest_from_history(conn: Connection, stages: list[StageInfo], filters: Filters) -> dict[tuple[int, int], int]:
    """``furthest_counts`` read from every counted deal and its history.

    The furthest position is the highest open-stage position among the deal's
    current stage and every stage its history moved it to; a won deal has
    reached every open stage (``_ALL_OPEN``). The query groups open and lost
    deals by (current stage, furthest position in history) with one covering
    index lookup per deal; won deals need no history and come from ``won_counts``.
    """
    ids = ids_by_outcome(stages)
    if not stages:
        return {}
    open_pos = {s.id: s.position for s in stages if s.outcome == "open"}
    out: dict[tuple[int, int], int] = defaultdict(int)
    pipeline_of = {s.id: s.pipeline_id for s in stages}
    won_q = (
        select(col(Deal.stage_id), func.count())
        .where(counted_deal(filters, [], ids["won"]))
        .group_by(col(Deal.stage_id))
    )
    for stage_id, n in conn.execute(won_q):
        out[(pipeline_of[stage_id], _ALL_OPEN)] += int(n)
    if not open_pos:
        return dict(out)
    hist_pos = case(*((col(StageChange.to_stage_id) == sid, pos) for sid, pos in open_pos.items()), else_=-1)
    history = (
        select(func.coalesce(func.max(hist_pos), -1))
        .where(col(StageChange.deal_id) == pk(Deal.id))
        .correlate(Deal)
        .scalar_subquery()
        .label("hist")
    )
    q = (
        select(col(Deal.stage_id), history, func.count())
        .where(counted_deal(filters, ids["open"], ids["lost"]))
        .group_by(col(Deal.stage_id), literal_column("hist"))
    )
    for stage_id, hist, n in conn.execute(q):
        current = open_pos.get(stage_id, -1)
        out[(pipeline_of[stage_id], max(int(hist), current))] += int(n)
    return dict(out)


def conversions(
    stages: list[StageInfo], furthest: dict[tuple[int, int], int], won_by_pipeline: Mapping[int, int]
) -> dict[int, float | None]:
    """stage_id → conversion to the next stage (None for won/lost stages or no deals).

    Every counted deal has reached its pipeline's first open stage; it has
    reached open stage k when its furthest position is ≥ k's position. The
    last open stage converts into the won stage: won deals ÷ reached it.
    """
    out: dict[int, float | None] = {}
    per_pipe: dict[int, list[StageInfo]] = defaultdict(list)
    for s in stages:
        out[s.id] = None
        if s.outcome == "open":
            per_pipe[s.pipeline_id].append(s)
    for pid, opens in per_pipe.items():
        total = sum(n for (p, _f), n in furthest.items() if p == pid)
        reached = []
        for i, s in enumerate(opens):
            if i == 0:
                reached.append(total)
            else:
                reached.append(sum(n for (p, f), n in furthest.items() if p == pid and f >= s.position))
        for i, s in enumerate(opens):
            nxt = reached[i + 1] if i + 1 < len(opens) else won_by_pipeline.get(pid, 0)
            out[s.id] = rate(nxt, reached[i])
    return out


def stage_rows(
    stages: list[StageInfo], cells: Mapping[tuple[int, str], _Cell], furthest: dict[tuple[int, int], int]
) -> tuple[StageFigures, ...]:
    """The ``stages`` section: every pipeline's stages in order."""
    figs = stage_figures(stages, cells)
    won_by_pipeline: dict[int, int] = defaultdict(int)
    for s in stages:
        if s.outcome == "won":
            won_by_pipeline[s.pipeline_id] += figs[s.id][0]
    conv = conversions(stages, furthest, won_by_pipeline)
    return tuple(StageFigures(s.name, s.outcome, *figs[s.id], conv[s.id], s.pipeline) for s in stages)


def stage_summaries(db: Database, pipeline_id: int, filters: Filters = Filters()) -> list[StageSummary]:
    """Kanban headers of one pipeline: count, value and weighted value per stage (home currency),
    from the kept figures."""
    with db.read() as session:
        conn = session.connection()
        conv = converter(conn, None)
        stages = load_stages(conn, pipeline_id)
        ids = ids_by_outcome(stages)
        rows = kept.deal_cells(conn, ids["open"], ids["won"] + ids["lost"], *_period(filters), filters.owner)
        cells: dict[int, _Cell] = {}
        for sid, _owner, currency, n, v, ocp, damt, _cs, _cn in rows:
            cells.setdefault(sid, _Cell()).add(_in_home(conv, currency, n, v, ocp, damt))
    figs = stage_figures(stages, {(sid, ""): c for sid, c in cells.items()})
    return [
        StageSummary(s.id, s.name, s.outcome, figs[s.id][0], figs[s.id][1], cp_to_cents(figs[s.id][2])) for s in stages
    ]


def rotting_deal_ids(db: Database, pipeline_id: int, now: dt.datetime | None = None) -> set[int]:
    """Open deals of the pipeline that sat in their stage longer than its rot threshold."""
    now = utc_now(now)
    with db.read() as session:
        conn = session.connection()
        rot_days = [(s.id, s.rot_days) for s in load_stages(conn, pipeline_id) if s.outcome == "open" and s.rot_days]
        if not rot_days:
            return set()
        cond = or_(
            *(
                and_(col(Deal.stage_id) == sid, col(Deal.stage_entered_at) < now - dt.timedelta(days=days))
                for sid, days in rot_days
            )
        )
        q = select(pk(Deal.id)).where(col(Deal.deleted_at).is_(None), cond, live_deal())
        return set(conn.execute(q).scalars())


def revenue_by_month(
    conn: Connection, dialect: Dialect, stages: list[StageInfo], filters: Filters, conv: Converter | None = None
) -> tuple[MonthFigures, ...]:
    """Won value (home currency) per 'YYYY-MM' of closed_at within the period, oldest first (kept figures)."""
    conv = converter(conn, conv)
    won = ids_by_outcome(stages)["won"]
    totals: dict[str, int] = {}
    for m, currency, v in kept.won_months(conn, won, *_period(filters), filters.owner):
        totals[m] = totals.get(m, 0) + conv.cents(v, currency)
    return tuple(MonthFigures(m, v) for m, v in sorted(totals.items()))


def forecast_by_month(
    db: Database, filters: Filters = Filters(), *, pipeline_id: int | None = None, now: dt.datetime | None = None
) -> list[tuple[str, int]]:
    """Weighted open value (whole cents) per 'YYYY-MM' of expected close, oldest first.

    Open deals with no expected close date, or one already past, are expected
    this month (the UTC month of ``now``). Only the owner filter applies.
    """
    now = utc_now(now)
    this_month = now.strftime("%Y-%m")
    month_start = dt.date(now.year, now.month, 1)
    with db.read() as session:
        conn = session.connection()
        stages = load_stages(conn, pipeline_id)
        open_ids = ids_by_outcome(stages)["open"]
        month = case(
            (or_(col(Deal.expected_close).is_(None), col(Deal.expected_close) < month_start), literal(this_month)),
            else_=per_engine.month_key(col(Deal.expected_close), db.dialect),
        ).label("month")
        sums = _weight_sums()
        q = (
            select(month, col(Deal.stage_id), sums[2], sums[3], col(Deal.currency))
            .where(live_deal(), col(Deal.stage_id).in_(open_ids), owner_cond(col(Deal.owner), filters))
            .group_by(month, col(Deal.stage_id), col(Deal.currency))
        )
        prob = {s.id: s.probability for s in stages}
        conv = converter(conn, None)
        totals: dict[str, int] = defaultdict(int)
        for m, sid, ocp, damt, currency in conn.execute(q):
            c = _in_home(conv, currency, 0, 0, ocp, damt)
            totals[m] += weighted_cent_pct(c.override_cp, c.default_amount, prob[sid])
    return [(m, cp_to_cents(totals[m])) for m in sorted(totals)]
