"""Shared pieces of the metrics: filters, row conditions, exact money and rates.

Every query here filters soft-deleted rows out: a deal counts only when it is
not deleted and its customer (if any) is not deleted either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import and_, or_, select, true

from crm_tui import engines
from crm_tui.columns import col, pk
from crm_tui.models import UTC, Customer, Deal, Pipeline, Stage

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Connection, Select, SQLColumnExpression
    from sqlalchemy.engine import Dialect


class _PerEngineSQL(Protocol):
    """The ``crm_tui.engines`` expressions the metrics build on, typed (that module is not
    typed yet; mypy holds it to these signatures once it is)."""

    def days_between(
        self,
        start: SQLColumnExpression[dt.datetime | None],
        end: SQLColumnExpression[dt.datetime | None],
        dialect: Dialect,
    ) -> ColumnElement[float]: ...

    def month_key(
        self, column: SQLColumnExpression[dt.datetime | dt.date | None], dialect: Dialect
    ) -> ColumnElement[str]: ...


per_engine: _PerEngineSQL = engines


@dataclass(frozen=True)
class Filters:
    """What a report looks at.

    ``since``/``until`` bound closed-deal figures by the UTC date of
    ``closed_at``, both ends inclusive. ``owner`` (exact match) limits
    deal, task and order figures to one owner. ``None`` means no limit.
    """

    since: dt.date | None = None
    until: dt.date | None = None
    owner: str | None = None

    def __post_init__(self) -> None:
        from crm_tui.errors import ValidationError

        if self.since and self.until and self.since > self.until:
            raise ValidationError(
                f"the period starts after it ends ({self.since} > {self.until}); swap --since and --until",
                field="since",
            )


@dataclass(frozen=True)
class StageInfo:
    id: int
    pipeline_id: int
    name: str
    position: int
    probability: int
    outcome: str
    rot_days: int | None


def utc_now(now: dt.datetime | None) -> dt.datetime:
    """``now`` made aware UTC (naive is taken as UTC); the clock when None."""
    if now is None:
        return dt.datetime.now(UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now.astimezone(UTC)


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def load_stages(conn: Connection, pipeline_id: int | None = None) -> list[StageInfo]:
    """Stages in pipeline position then stage position order (a handful of rows)."""
    q = (
        select(
            pk(Stage.id),
            col(Stage.pipeline_id),
            col(Stage.name),
            col(Stage.position),
            col(Stage.probability),
            col(Stage.outcome),
            col(Stage.rot_days),
        )
        .join(Pipeline, pk(Pipeline.id) == col(Stage.pipeline_id))
        # a removed stage holds no deals (its deals were moved); an archived pipeline's stay counted
        .where(col(Stage.archived_at).is_(None))
        .order_by(col(Pipeline.position), pk(Pipeline.id), col(Stage.position), pk(Stage.id))
    )
    if pipeline_id is not None:
        q = q.where(col(Stage.pipeline_id) == pipeline_id)
    return [StageInfo(*row) for row in conn.execute(q)]


def ids_by_outcome(stages: list[StageInfo]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {"open": [], "won": [], "lost": []}
    for s in stages:
        out.setdefault(s.outcome, []).append(s.id)
    return out


def deleted_customer_ids() -> Select[int]:
    return select(pk(Customer.id)).where(col(Customer.deleted_at).is_not(None))


def live_customer_ref(column: SQLColumnExpression[int | None]) -> ColumnElement[bool]:
    """``column`` (a customer id, possibly NULL) does not point at a deleted customer."""
    return or_(column.is_(None), column.not_in(deleted_customer_ids()))


def live_deal() -> ColumnElement[bool]:
    return and_(col(Deal.deleted_at).is_(None), live_customer_ref(col(Deal.customer_id)))


def owner_cond(column: SQLColumnExpression[str], filters: Filters) -> ColumnElement[bool]:
    return true() if filters.owner is None else column == filters.owner


def period_cond(filters: Filters) -> ColumnElement[bool]:
    """closed_at within the period (inclusive whole UTC days); true when unbounded."""
    conds: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conds.append(col(Deal.closed_at) >= day_start(filters.since))
    if filters.until is not None and filters.until < dt.date.max:  # 9999-12-31: no day after it, no bound
        conds.append(col(Deal.closed_at) < day_start(filters.until + dt.timedelta(days=1)))
    return and_(*conds) if conds else true()


def counted_deal(filters: Filters, open_ids: Sequence[int], closed_ids: Sequence[int]) -> ColumnElement[bool]:
    """Open deals (any age) plus deals closed in the period, for this owner."""
    return and_(
        live_deal(),
        owner_cond(col(Deal.owner), filters),
        or_(col(Deal.stage_id).in_(open_ids), and_(col(Deal.stage_id).in_(closed_ids), period_cond(filters))),
    )


# --- exact numbers ------------------------------------------------------------


def weighted_cent_pct(override_cp: int | None, default_amount: int | None, probability: int) -> int:
    """Σ amount × probability in cent-percent (exact integer; ÷100 gives cents)."""
    return int(override_cp or 0) + int(default_amount or 0) * int(probability)


def cp_to_major(cent_pct: int) -> float | int:
    """Cent-percent → major units as a JSON number, exact to the cent's hundredth."""
    value = Decimal(int(cent_pct)) / 10000
    return int(value) if value == value.to_integral_value() else float(value)


def cp_to_cents(cent_pct: int) -> int:
    """Cent-percent → whole cents, half rounded up (for display totals)."""
    return int((Decimal(int(cent_pct)) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rate(numerator: int, denominator: int, digits: int = 4) -> float | None:
    """numerator ÷ denominator rounded, or None when the denominator is 0."""
    if not denominator:
        return None
    return round(float(Decimal(int(numerator)) / Decimal(int(denominator))), digits)


def money_ratio(cents: int, count: int) -> float | int | None:
    """cents ÷ count as major units rounded to the cent, or None when count is 0."""
    if not count:
        return None
    value = (Decimal(int(cents)) / Decimal(int(count)) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(value) if value == value.to_integral_value() else float(value)
