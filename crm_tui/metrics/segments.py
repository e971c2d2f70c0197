"""Customer segments (the seeds' "classify customers") by RFM.

Purchases are won deals and fulfilled orders (see ``book.purchases``); a
customer with none is in no segment. Per customer, one SQL GROUP BY gives

- recency: days from the last purchase to ``now``,
- frequency: number of purchases,
- monetary: Σ purchase values,

and the same statement scores them 1..5 (no customer passes through Python, and no pandas,
whose import alone costs more than the query; the window function needs SQLite 3.25 or later,
which every supported Python ships):

- R by fixed recency thresholds: ≤30 days 5, ≤90 4, ≤180 3, ≤365 2, older 1;
- F by fixed counts: 1 → 1, 2 → 2, 3 → 3, 4–5 → 4, 6 or more → 5;
- M by quintile of the customer's monetary rank among purchasing customers
  (ties share the higher rank, so a lone customer scores 5).

When every purchase is in one currency (most books), the kept purchases are one row per buyer
and the M quintile matters only as "M ≥ 4": one ordered read finds that threshold and one pass
counts the buyers per (R, F, M ≥ 4) cell, no window (``_one_currency_rows``; the same figures).

Fixed R and F thresholds keep one customer and 100k customers meaningful;
M is relative because what counts as "a lot" depends on the book. Rules,
first match wins:

1. champions — R ≥ 4, F ≥ 4 and M ≥ 4: bought recently, often, and a lot;
2. new — R ≥ 4 and F = 1: a first purchase in the last 90 days;
3. loyal — R ≥ 3 and F ≥ 3: buys regularly;
4. potential — R ≥ 3: bought in the last 180 days, could become loyal;
5. at risk — F ≥ 3 or M ≥ 4: used to buy often or big, nothing for 180+ days;
6. hibernating — everyone else: few, small purchases long ago.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, literal, or_, select

from crm_tui.metrics._common import StageInfo, load_stages, per_engine, utc_now
from crm_tui.metrics.figures import SegmentFigures
from crm_tui.models import FIG_BUYER, UTCDateTime
from crm_tui.money import Converter, Rates, load_rates_conn

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Connection, Subquery

    from crm_tui.db import Database

SEGMENTS = ("champions", "loyal", "potential", "new", "at risk", "hibernating")


def _in_home(value: ColumnElement[int], currency: ColumnElement[str], rates: Rates) -> ColumnElement[float]:
    """A purchase's value in home minor units for ranking customers by M (the home currency's as
    it is; another's times its rate, as a float: ranking only, the sums shown are converted
    exactly in Python; a currency with no rate counts 0)."""
    others = [(currency == code, value * literal(float(r))) for code, r in sorted(rates.per_unit.items())]
    return case((currency == rates.home, value), *others, else_=0)


#: the recency thresholds in days (R 5, 4, 3, 2; older is R 1)
_RECENCY_DAYS = (30, 90, 180, 365)
#: the most purchases of F 1, 2, 3, 4 (more is F 5)
_FREQUENCY_MOST = (1, 2, 3, 5)


def _r_score(recency: Any) -> Any:
    """R of a recency in days, as SQL."""
    return case(*((recency <= days, 5 - i) for i, days in enumerate(_RECENCY_DAYS)), else_=1)


def _f_score(frequency: Any) -> Any:
    """F of a number of purchases, as SQL."""
    return case(*((frequency <= most, i + 1) for i, most in enumerate(_FREQUENCY_MOST)), else_=5)


def _scored(conn: Connection, stages: list[StageInfo], now: dt.datetime, rates: Rates | None = None) -> Subquery:
    """Per purchasing customer: customer_id, monetary (home units, for ranking), segment — one statement."""
    rates = rates if rates is not None else load_rates_conn(conn)
    # each customer's purchases per currency, as the database keeps them (``crm_tui.kept``)
    p = select(
        FIG_BUYER.c.customer_id, FIG_BUYER.c.currency, FIG_BUYER.c.n, FIG_BUYER.c.value, FIG_BUYER.c.last_at.label("at")
    ).subquery("purchase")
    recency = per_engine.days_between(func.max(p.c.at), literal(now, UTCDateTime), conn.dialect)
    rfm = (
        select(
            p.c.customer_id.label("customer_id"),
            recency.label("recency"),
            func.sum(p.c.n).label("frequency"),
            func.coalesce(func.sum(_in_home(p.c.value, p.c.currency, rates)), 0).label("monetary"),
            # the exact sums behind it, one column per currency that converts (``_known``)
            *(
                func.coalesce(func.sum(case((p.c.currency == code, p.c.value), else_=0)), 0).label(f"m{i}")
                for i, code in enumerate(_known(rates))
            ),
        )
        .group_by(p.c.customer_id)
        .subquery("rfm")
    )
    r = _r_score(rfm.c.recency)
    f = _f_score(rfm.c.frequency)
    # M = ⌈5 × (customers with at most this monetary) / customers⌉, in whole numbers: a window
    # ordered by monetary counts the rows up to this one's value, ties included
    at_most = func.count().over(order_by=rfm.c.monetary)
    m = (5 * at_most + func.count().over() - 1) // func.count().over()  # whole-number division
    exact = [rfm.c[f"m{i}"] for i in range(len(_known(rates)))]
    scores = select(rfm.c.customer_id, rfm.c.monetary, *exact, r.label("r"), f.label("f"), m.label("m")).subquery(
        "scores"
    )
    R, F, M = scores.c.r, scores.c.f, scores.c.m
    segment = case(
        (and_(R >= 4, F >= 4, M >= 4), "champions"),
        (and_(R >= 4, F == 1), "new"),
        (and_(R >= 3, F >= 3), "loyal"),
        (R >= 3, "potential"),
        (or_(F >= 3, M >= 4), "at risk"),
        else_="hibernating",
    )
    exact = [scores.c[f"m{i}"] for i in range(len(exact))]
    return select(scores.c.customer_id, scores.c.monetary, *exact, segment.label("segment")).subquery("segmented")


def _known(rates: Rates) -> list[str]:
    """The currencies that convert, home first: a column of exact sums each in ``_scored``."""
    return [rates.home, *sorted(c for c in rates.per_unit if c != rates.home)]


#: how far the engines' floating-point day counts are trusted at a threshold
_SLACK = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class _Counted:
    """The one-currency road's cells, kept to be carried forward in time (``segment_rows``)."""

    code: str  # the one currency
    threshold: object  # the monetary value M ≥ 4 starts at (None: no buyer)
    counts: dict[str, int]
    values: dict[str, int]  # Σ purchases in ``code``, not converted


def segment_rows(
    conn: Connection,
    stages: list[StageInfo],
    now: dt.datetime,
    conv: Converter | None = None,
    *,
    memo: dict[str, Any] | None = None,
) -> tuple[SegmentFigures, ...]:
    """The ``segments`` section: every segment (zeros included) with customer count and value
    (home currency: each segment's purchases summed per currency, each sum converted once).

    ``memo`` (``Database.memo``): what was worked out last is used again while no write has
    rewritten a purchase since (``kept.BUYER_CHANGES``; a move between open stages rewrites
    none) and the stages and rates are the same. Time moving on changes only the R of the buyers
    whose last purchase crossed a threshold meanwhile: one-currency counts are carried forward by
    reading those few (the same figures as counting again); the window's are used until the first
    such crossing."""
    conv = conv if conv is not None else Converter(load_rates_conn(conn))
    if memo is None:
        return _finished(_segment_cells(conn, stages, now, conv), conv)
    from crm_tui import kept

    rates = conv.rates
    state = (
        kept.buyer_changes(conn),
        kept.buyers_stale(conn),
        tuple(stages),
        rates.home,
        sorted(rates.per_unit.items()),
    )
    held = memo.get("segments")
    found: _Counted | tuple[SegmentFigures, ...] | None = None
    if held is not None and held[0] == state and held[1] <= now:
        _state, since, until, was = held
        if isinstance(was, _Counted):
            found = _carried(conn, was, since, now, conv)
        elif until is not None and now <= until:
            found = was
    if found is None:
        found = _segment_cells(conn, stages, now, conv)
    # counted cells are carried to any later moment; the window's rows hold until a crossing
    until = None if isinstance(found, _Counted) else _unchanged_until(conn, now)
    memo["segments"] = (state, now, until, found)
    return _finished(found, conv)


def _finished(found: _Counted | tuple[SegmentFigures, ...], conv: Converter) -> tuple[SegmentFigures, ...]:
    if not isinstance(found, _Counted):
        return found
    converts = found.code in _known(conv.rates)  # a currency with no rate counts 0, as in the window's sums
    return tuple(
        SegmentFigures(
            name,
            found.counts.get(name, 0),
            conv.total([(found.code, found.values[name])]) if converts and name in found.values else 0,
        )
        for name in SEGMENTS
    )


def _unchanged_until(conn: Connection, now: dt.datetime) -> dt.datetime:
    """The last moment every buyer's R score is still what it is at ``now``: per threshold, the
    earliest purchase still within it plus the threshold. A customer's recency runs from its
    latest purchase in any currency, and each row's own is that or earlier: this errs early."""
    b = FIG_BUYER.c
    firsts = conn.execute(
        select(
            *(
                func.min(case((b.last_at >= literal(now - dt.timedelta(days=days), UTCDateTime), b.last_at)))
                for days in _RECENCY_DAYS
            )
        )
    ).one()
    until = dt.datetime.max.replace(tzinfo=dt.UTC)
    for first, days in zip(firsts, _RECENCY_DAYS, strict=True):
        if isinstance(first, dt.datetime):
            at = first if first.tzinfo is not None else first.replace(tzinfo=dt.UTC)
            until = min(until, at + dt.timedelta(days=days) - _SLACK)
    return until


def _segment_cells(
    conn: Connection, stages: list[StageInfo], now: dt.datetime, conv: Converter
) -> _Counted | tuple[SegmentFigures, ...]:
    lowest, highest = conn.execute(select(func.min(FIG_BUYER.c.currency), func.max(FIG_BUYER.c.currency))).one()
    if lowest is not None and lowest == highest:
        return _one_currency_cells(conn, now, conv, lowest)
    return _window_rows(conn, stages, now, conv)


def _scores(conn: Connection, conv: Converter, threshold: object) -> tuple[Any, Any, Callable[[dt.datetime], Any]]:
    """(F, M ≥ 4, R at a moment) of a fig_buyer row, as SQL."""
    b = FIG_BUYER.c
    m4 = case((_in_home(b.value, b.currency, conv.rates) >= threshold, 1), else_=0)

    def r(at: dt.datetime) -> Any:
        return _r_score(per_engine.days_between(b.last_at, literal(at, UTCDateTime), conn.dialect))

    return _f_score(b.n), m4, r


def _one_currency_cells(conn: Connection, now: dt.datetime, conv: Converter, code: str) -> _Counted:
    """``segment_rows`` when every purchase is in one currency (most books): one row per buyer
    already, so no grouping per customer and no window. M enters the rules only as "M ≥ 4", and
    M = ⌈5 × at_most / N⌉ ≥ 4 ⟺ at_most ≥ ⌊3N/5⌋ + 1 =: k ⟺ monetary ≥ the k-th smallest monetary:
    one ordered read finds that value, then one pass counts the buyers per (R, F, M ≥ 4) — at
    most 50 cells, each named by the rules here."""
    b = FIG_BUYER.c
    monetary = _in_home(b.value, b.currency, conv.rates)
    buyers = conn.execute(select(func.count()).select_from(FIG_BUYER)).scalar() or 0
    threshold = conn.execute(select(monetary).order_by(monetary).limit(1).offset(3 * buyers // 5)).scalar()
    f, m4, r = _scores(conn, conv, threshold)
    cells = select(r(now).label("r"), f.label("f"), m4.label("m4"), b.value).subquery("cells")
    values: dict[str, int] = {}
    counts: dict[str, int] = {}
    for R, F, M4, n, total in conn.execute(
        select(cells.c.r, cells.c.f, cells.c.m4, func.count(), func.sum(cells.c.value)).group_by(
            cells.c.r, cells.c.f, cells.c.m4
        )
    ):
        name = _segment(int(R), int(F), bool(M4))
        counts[name] = counts.get(name, 0) + int(n)
        values[name] = values.get(name, 0) + int(total or 0)
    return _Counted(code, threshold, counts, values)


def _carried(conn: Connection, was: _Counted, since: dt.datetime, now: dt.datetime, conv: Converter) -> _Counted:
    """``was`` (counted at ``since``) at ``now``: only a buyer whose last purchase lies a threshold
    before a moment in between changes its R, so those few are read, scored at both moments and
    moved between segments (nothing else about a buyer depends on the time)."""
    if now == since:
        return was
    b = FIG_BUYER.c
    f, m4, r = _scores(conn, conv, was.threshold)
    crossing = or_(
        *(
            and_(
                b.last_at >= literal(since - dt.timedelta(days=days) - _SLACK, UTCDateTime),
                b.last_at <= literal(now - dt.timedelta(days=days) + _SLACK, UTCDateTime),
            )
            for days in _RECENCY_DAYS
        )
    )
    c = (
        select(r(since).label("r0"), r(now).label("r1"), f.label("f"), m4.label("m4"), b.value)
        .where(crossing)
        .subquery("cells")
        .c
    )
    counts, values = dict(was.counts), dict(was.values)
    for R0, R1, F, M4, n, total in conn.execute(
        select(c.r0, c.r1, c.f, c.m4, func.count(), func.sum(c.value)).group_by(c.r0, c.r1, c.f, c.m4)
    ):
        before, after = _segment(int(R0), int(F), bool(M4)), _segment(int(R1), int(F), bool(M4))
        if before != after:
            counts[before] -= int(n)
            values[before] -= int(total or 0)
            counts[after] = counts.get(after, 0) + int(n)
            values[after] = values.get(after, 0) + int(total or 0)
    for name in [name for name, n in counts.items() if n == 0]:
        del counts[name], values[name]  # as counting again has it: no buyer, no value entry
    return _Counted(was.code, was.threshold, counts, values)


def _segment(r: int, f: int, m4: bool) -> str:
    """The rules of the module docstring (first match wins), for one (R, F, M ≥ 4) cell."""
    if r >= 4 and f >= 4 and m4:
        return "champions"
    if r >= 4 and f == 1:
        return "new"
    if r >= 3 and f >= 3:
        return "loyal"
    if r >= 3:
        return "potential"
    if f >= 3 or m4:
        return "at risk"
    return "hibernating"


def _window_rows(
    conn: Connection, stages: list[StageInfo], now: dt.datetime, conv: Converter
) -> tuple[SegmentFigures, ...]:
    """``segment_rows`` for purchases in several currencies: each customer's summed in one
    statement and ranked by a window over every buyer."""
    seg = _scored(conn, stages, now, conv.rates)
    known = _known(conv.rates)
    values: dict[str, int] = {}
    counts: dict[str, int] = {}
    # one row per segment: its customers and its purchases summed per currency (no join back to
    # the purchases: the per-currency sums ride along the RFM statement), each sum converted once
    sums = [func.sum(seg.c[f"m{i}"]) for i in range(len(known))]
    for name, n, *totals in conn.execute(select(seg.c.segment, func.count(), *sums).group_by(seg.c.segment)):
        counts[name] = int(n)
        values[name] = conv.total(zip(known, (int(t or 0) for t in totals)))
    return tuple(SegmentFigures(name, counts.get(name, 0), values.get(name, 0)) for name in SEGMENTS)


def customer_segments(db: Database, now: dt.datetime | None = None) -> dict[int, str]:
    """Customer id → segment name, for customers with at least one purchase."""
    now = utc_now(now)
    with db.read() as session:
        conn = session.connection()
        seg = _scored(conn, load_stages(conn), now)
        return {int(cid): name for cid, name in conn.execute(select(seg.c.customer_id, seg.c.segment))}
