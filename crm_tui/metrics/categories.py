"""Forecast categories: the rep's call on each open deal, and the period's forecast by category.

An open deal is in the category the rep gave it (``deal.forecast_category``), else the one its
win probability gives (its own override, else its stage's): under 50% "pipeline", 50–74% "best
case", 75% and over "commit". A won deal is "closed". The period's forecast (Salesforce's
forecast view) adds up, in the home currency:

- ``closed``: deals won in the period (local calendar month or quarter);
- each open category: open deals expected to close by the period's end — a deal whose expected
  close has passed is still expected now, so it stays in the current period; a deal with no
  expected close date is in no period (``undated`` counts them, so the screen can say so).

Two grouped queries on the deal covering index (category × probability × currency; currency of
the won ones), converted to the home currency once per group (``crm_tui.money``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, literal, or_, select

from crm_tui.columns import col, pk
from crm_tui.dates import local_to_utc, local_today
from crm_tui.metrics._common import live_deal, utc_now
from crm_tui.models import CATEGORY_LABELS as CATEGORY_LABELS
from crm_tui.models import FORECAST_CATEGORIES, Deal, Stage, category_of
from crm_tui.models import default_category as default_category
from crm_tui.models import next_category as next_category
from crm_tui.money import Rates, load_rates
from crm_tui.textnorm import cents_to_major

if TYPE_CHECKING:
    from sqlmodel import Session


@dataclass(frozen=True)
class CategoryForecast:
    """The period's forecast by category, in home-currency minor units."""

    period: str  # "month" or "quarter"
    start: dt.date  # first local day of the period
    end: dt.date  # first local day after it
    cents: dict[str, int]  # closed, commit, best_case, pipeline
    counts: dict[str, int]
    undated: int  # open deals with no expected close date (in no period)
    currency: str
    missing: frozenset[str]  # currencies left out for want of a rate

    def json(self) -> dict[str, int | float]:
        return {k: cents_to_major(self.cents[k]) for k in ("pipeline", "best_case", "commit", "closed")}


def period_bounds(today: dt.date, period: str) -> tuple[dt.date, dt.date]:
    """The local month or quarter holding ``today``: its first day and the first day after it."""
    first_month = today.month if period == "month" else 3 * ((today.month - 1) // 3) + 1
    start = dt.date(today.year, first_month, 1)
    months = 1 if period == "month" else 3
    m = start.month - 1 + months
    return start, dt.date(start.year + m // 12, m % 12 + 1, 1)


def _local_midnight(day: dt.date) -> dt.datetime:
    """The UTC moment the rep's local ``day`` begins (a deal won at 23:59 local is in its day's month)."""
    return local_to_utc(dt.datetime.combine(day, dt.time()))


def category_forecast(
    session: Session,
    *,
    period: str = "month",
    now: dt.datetime | None = None,
    owner: str | None = None,
    rates: Rates | None = None,
) -> CategoryForecast:
    """The forecast by category of the local ``period`` ("month" or "quarter") holding ``now``."""
    if period not in ("month", "quarter"):
        raise ValueError(f"period must be month or quarter, not {period!r}")
    now = utc_now(now)
    start, end = period_bounds(local_today(now), period)
    rates = rates or load_rates(session)
    conn = session.connection()
    stages = {
        sid: (out, prob)
        for sid, out, prob in conn.execute(select(pk(Stage.id), col(Stage.outcome), col(Stage.probability)))
    }
    open_ids = [sid for sid, (out, _p) in stages.items() if out == "open"]
    won_ids = [sid for sid, (out, _p) in stages.items() if out == "won"]
    mine = [col(Deal.owner) == owner] if owner is not None else []
    sums: dict[str, list[tuple[str, int]]] = {k: [] for k in (*FORECAST_CATEGORIES, "closed")}
    counts = dict.fromkeys(sums, 0)
    undated = 0
    if open_ids:
        q = (
            select(
                col(Deal.stage_id),
                col(Deal.forecast_category),
                col(Deal.probability),
                col(Deal.currency),
                col(Deal.expected_close).is_(None),
                func.sum(col(Deal.amount_cents)),
                func.count(),
            )
            .where(
                col(Deal.stage_id).in_(open_ids),
                live_deal(),
                or_(col(Deal.expected_close).is_(None), col(Deal.expected_close) < end),
                *mine,
            )
            .group_by(
                col(Deal.stage_id),
                col(Deal.forecast_category),
                col(Deal.probability),
                col(Deal.currency),
                col(Deal.expected_close).is_(None),
            )
        )
        for sid, chosen, override, currency, no_date, cents, n in conn.execute(q):
            if no_date:
                undated += int(n)
                continue
            category = category_of(chosen, override if override is not None else stages[sid][1])
            sums[category].append((currency, int(cents or 0)))
            counts[category] += int(n)
    if won_ids:
        won = (
            select(col(Deal.currency), func.sum(col(Deal.amount_cents)), func.count())
            .where(
                col(Deal.stage_id).in_(won_ids),
                live_deal(),
                and_(col(Deal.closed_at) >= _local_midnight(start), col(Deal.closed_at) < _local_midnight(end)),
                *mine,
            )
            .group_by(col(Deal.currency))
        )
        for currency, cents, n in conn.execute(won):
            sums["closed"].append((currency, int(cents or 0)))
            counts["closed"] += int(n)
    cents_by: dict[str, int] = {}
    missing: set[str] = set()
    for key, pairs in sums.items():
        done = rates.convert(pairs)
        cents_by[key] = done.cents
        missing |= done.missing
    return CategoryForecast(period, start, end, cents_by, counts, undated, rates.home, frozenset(missing))


#: what the learned forecast reads: a write that touches one of them (``change_log``) may change it
FORECAST_TABLES = (
    "deal",
    "stage_change",
    "deal_product",
    "product",
    "currency_rate",
    "crm_meta",
    "customer",
    "stage",
    "pipeline",
)


def forecast_stamp(session: Session) -> tuple[object, ...]:
    """What the learned forecast is learned from, in a few index-backed reads: the last committed
    write that touched what it reads (every write names its tables in ``change_log``; the newest
    rows are read first, so this stops at the first that matches), and beside it the deals'
    count, the last stage move, the product prices, the rates, the schema version and the team's
    policy on reps' deals. The same
    stamp: the same forecast (a screen need not learn it again)."""
    from crm_tui.models import ChangeLog, CurrencyRate, Meta, Product, StageChange

    conn = session.connection()
    listed = literal(",").concat(col(ChangeLog.tables)).concat(",")
    touched = or_(*(listed.like(f"%,{table},%") for table in FORECAST_TABLES))
    last = conn.execute(select(pk(ChangeLog.id)).where(touched).order_by(pk(ChangeLog.id).desc()).limit(1)).scalar()
    deals = conn.execute(select(func.count()).select_from(Deal)).scalar()
    moves = conn.execute(select(func.max(pk(StageChange.id)))).scalar()
    prices = conn.execute(select(func.count(), func.sum(col(Product.unit_price_cents)))).one()
    rates = conn.execute(select(func.count(), func.max(col(CurrencyRate.updated_at)))).one()
    # the schema's version, and the team's policy on reps' deals (what a rep may read of the book)
    meta = dict(
        conn.execute(
            select(col(Meta.key), col(Meta.value)).where(col(Meta.key).in_(("schema_version", "team_reps_see")))
        ).all()
    )
    return (
        last,
        deals,
        moves,
        *prices,
        *rates,
        load_rates(session).home,
        meta.get("schema_version"),
        meta.get("team_reps_see"),
    )
