"""Shared pieces of the metrics: filters, row conditions, exact money and rates.

Every query here filters soft-deleted rows out: a deal counts only when it is
not deleted and its customer (if any) is not deleted either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import and_, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from crm_tui import engines
from crm_tui.columns import col, pk
from crm_tui.models import UTC, Customer, Deal, Pipeline, Stage, Task

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Connection, Select, SQLColumnExpression
    from sqlalchemy.engine import Dialect
    from sqlalchemy.sql.compiler import SQLCompiler

T = TypeVar("T")


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
    ``closed_at`` and activity figures by the UTC date of a task's ``done_at``,
    both ends inclusive. ``owner`` (exact match) limits deal, task, activity
    and order figures to one owner. ``None`` means no limit.
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
    pipeline: str = ""  # its pipeline's name


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
            col(Pipeline.name),
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
    return period_on(col(Deal.closed_at), filters)


def period_on(column: SQLColumnExpression[dt.datetime | None], filters: Filters) -> ColumnElement[bool]:
    """``column`` (a UTC timestamp) within the period (inclusive whole UTC days); true when unbounded."""
    conds: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conds.append(column >= day_start(filters.since))
    if filters.until is not None and filters.until < dt.date.max:  # 9999-12-31: no day after it, no bound
        conds.append(column < day_start(filters.until + dt.timedelta(days=1)))
    return and_(*conds) if conds else true()


def live_task(deleted_at: ColumnElement[dt.datetime | None] | None = None) -> ColumnElement[bool]:
    """A task that counts: not deleted (nor cancelled with its deal), its customer and its deal
    (if any) not deleted either. ``deleted_at``: the task's column as the query should test it
    (``unindexed(col(Task.deleted_at))`` to keep the planner off the indexes it leads)."""
    # every deal has a stage (a foreign key): naming them all lets SQLite seek the deleted deals
    # in ix_deal_stage_live (stage_id, deleted_at) stage by stage, not read the index of every
    # deal (300k deals: 0.05 ms, not 11 ms)
    deleted_deals = select(pk(Deal.id)).where(
        col(Deal.stage_id).in_(select(pk(Stage.id))), col(Deal.deleted_at).is_not(None)
    )
    return and_(
        (col(Task.deleted_at) if deleted_at is None else deleted_at).is_(None),
        live_customer_ref(col(Task.customer_id)),
        or_(col(Task.deal_id).is_(None), col(Task.deal_id).not_in(deleted_deals)),
    )


def counted_deal(filters: Filters, open_ids: Sequence[int], closed_ids: Sequence[int]) -> ColumnElement[bool]:
    """Open deals (any age) plus deals closed in the period, for this owner."""
    return and_(
        live_deal(),
        owner_cond(col(Deal.owner), filters),
        or_(col(Deal.stage_id).in_(open_ids), and_(col(Deal.stage_id).in_(closed_ids), period_cond(filters))),
    )


class unindexed(FunctionElement[T]):  # noqa: N801 (used like a SQL function: unindexed(column).is_(None))
    """``column`` as an expression no SQLite index answers: ``+column`` (SQLite's unary plus
    changes no value, of any type, and keeps the term from choosing an index). Without
    statistics SQLite's planner takes an equality on an index's first column over a range on
    another index or a plain scan, even when that walks every row of the index and reads the
    table for each; this takes the term away from it. PostgreSQL plans from its statistics:
    the column as it is. The expression keeps the column's type, so a value compared with it
    is bound as the column's would be."""

    name = "unindexed"
    inherit_cache = True

    def __init__(self, expression: SQLColumnExpression[T]) -> None:
        super().__init__(expression)
        self.type = self.clauses.clauses[0].type  # the column's, coerced


@compiles(unindexed)
def _unindexed(element: unindexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


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
