"""One timeline for a deal or a customer: activities, notes, stage changes and orders, newest first.

Each source is read by its own bounded query (``LIMIT limit``, newest first), and the four are
merged here, so a customer with 10,000 notes costs one page of notes, not all of them. A
customer's timeline holds its deals' items too. Deleted records (and everything on a deleted
deal) are left out; a ``kinds`` filter reads only the sources asked for. No textual here.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Executable, Select, and_, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from crm_tui.columns import bigint, col, pk
from crm_tui.models import Deal, Note, Order, OrderLine, Stage, StageChange, Task

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.sql.compiler import SQLCompiler

    from crm_tui.db import Database

#: what a timeline item can be, in the order the filter cycles through them
KINDS = ("activity", "note", "stage", "order")
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class TimelineItem:
    """One thing that happened, as stored (text is data: the screen shows it literally)."""

    at: dt.datetime  # UTC
    kind: str  # one of KINDS
    what: str  # one line: a task's subject, "Lead → Qualified", "order SO-0001 approved", a note's first line
    who: str  # the task's owner, the note's author, who moved the deal, the order's owner
    detail: str = ""  # a note's whole body (may hold newlines)
    outcome: str = ""  # how an activity went (Task.outcome), when logged
    deal_id: int | None = None
    deal: str = ""  # the deal's title (a customer's timeline names the deal an item was about)
    record_id: int = 0  # the task, note, stage change or order id
    value_cents: int | None = None  # an order's value (exact, in cents)
    activity: str = ""  # an activity's kind: call, email, meeting or todo


def timeline(
    db: Database,
    *,
    deal_id: int | None = None,
    customer_id: int | None = None,
    kinds: Collection[str] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[TimelineItem]:
    """The newest ``limit`` items of one deal or one customer (with its deals), newest first.

    ``kinds``: only these kinds (None: all); an unknown kind raises ValueError.
    """
    if (deal_id is None) == (customer_id is None):
        raise ValueError("a timeline is of one deal or one customer: give deal_id or customer_id")
    wanted = tuple(KINDS if kinds is None else kinds)
    unknown = [k for k in wanted if k not in KINDS]
    if unknown:
        raise ValueError(f"no timeline kind {unknown[0]!r}; use one of {', '.join(KINDS)}")
    if limit <= 0:
        return []
    live_deals = select(pk(Deal.id)).where(col(Deal.deleted_at).is_(None))
    if customer_id is not None:
        live_deals = live_deals.where(col(Deal.customer_id) == customer_id)
    readers = {"activity": _activities, "note": _notes, "stage": _stage_changes, "order": _orders}
    with db.read() as session:
        conn = session.connection()
        sources = [readers[kind](conn, deal_id, customer_id, live_deals, limit) for kind in KINDS if kind in wanted]
    merged = heapq.merge(*sources, key=_newest_first)
    return list(_take(merged, limit))


class _live(FunctionElement[bool]):  # noqa: N801 (used like a SQL function)
    """``deleted_at IS NULL`` that no index is chosen for. Without statistics SQLite would scan
    every live task through the index that leads with ``deleted_at`` rather than look up one
    customer's or deal's rows (``+deleted_at``: the same value, no index); PostgreSQL plans by
    its statistics and gets the plain test."""

    type = Boolean()
    name = "live"
    inherit_cache = True

    def __init__(self, deleted_at: ColumnElement[Any] | Any) -> None:
        super().__init__(deleted_at)


@compiles(_live)
def _live_default(element: _live, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} IS NULL)"


@compiles(_live, "sqlite")
def _live_sqlite(element: _live, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(+{compiler.process(element.clauses, **kw)} IS NULL)"


def _newest_first(item: TimelineItem) -> tuple[float, int, int]:
    return (-item.at.timestamp(), KINDS.index(item.kind), -item.record_id)


def _take(items: Iterable[TimelineItem], n: int) -> Iterable[TimelineItem]:
    for i, item in enumerate(items):
        if i >= n:
            return
        yield item


def _about(
    record_deal: ColumnElement[Any] | Any,
    record_customer: ColumnElement[Any] | Any,
    deal_id: int | None,
    customer_id: int | None,
    live_deals: Select[int],
) -> ColumnElement[bool]:
    """A record of this deal, or of this customer or one of its live deals; never of a deleted deal.

    Written as ``customer = ? OR deal IN (...)`` so each side is an index lookup."""
    if deal_id is not None:
        return record_deal == deal_id
    deleted_deal = select(pk(Deal.id)).where(pk(Deal.id) == record_deal, col(Deal.deleted_at).is_not(None))
    not_on_deleted = ~deleted_deal.exists()
    return and_(or_(record_customer == customer_id, record_deal.in_(live_deals)), not_on_deleted)


def _rows(conn: Any, stmt: Executable) -> list[Any]:
    return list(conn.execute(stmt).all())


def _activities(
    conn: Any, deal_id: int | None, customer_id: int | None, live_deals: Select[int], limit: int
) -> list[TimelineItem]:
    """Done tasks (a logged call, email or meeting carries its outcome); deleted and cancelled
    ones (a cancelled task is deleted too) are not."""
    title = select(col(Deal.title)).where(pk(Deal.id) == col(Task.deal_id)).scalar_subquery()
    stmt = (
        select(
            col(Task.done_at),
            pk(Task.id),
            col(Task.kind),
            col(Task.subject),
            col(Task.owner),
            col(Task.outcome),
            col(Task.deal_id),
            title,
        )
        .where(
            _about(col(Task.deal_id), col(Task.customer_id), deal_id, customer_id, live_deals),
            col(Task.done_at).is_not(None),
            _live(col(Task.deleted_at)),
        )
        .order_by(col(Task.done_at).desc(), pk(Task.id).desc())
        .limit(limit)
    )
    return [
        TimelineItem(
            at, "activity", subject, owner or "", "", outcome or "", deal, deal_title or "", task_id, activity=kind
        )
        for at, task_id, kind, subject, owner, outcome, deal, deal_title in _rows(conn, stmt)
    ]


def _notes(
    conn: Any, deal_id: int | None, customer_id: int | None, live_deals: Select[int], limit: int
) -> list[TimelineItem]:
    title = select(col(Deal.title)).where(pk(Deal.id) == col(Note.deal_id)).scalar_subquery()
    stmt = (
        select(col(Note.created_at), pk(Note.id), col(Note.body), col(Note.author), col(Note.deal_id), title)
        .where(
            _about(col(Note.deal_id), col(Note.customer_id), deal_id, customer_id, live_deals),
            _live(col(Note.deleted_at)),
        )
        .order_by(col(Note.created_at).desc(), pk(Note.id).desc())
        .limit(limit)
    )
    return [
        TimelineItem(
            at, "note", (body.split("\n", 1)[0] if body else ""), author or "", body or "", "", deal, t or "", i
        )
        for at, i, body, author, deal, t in _rows(conn, stmt)
    ]


def _stage_changes(
    conn: Any, deal_id: int | None, customer_id: int | None, live_deals: Select[int], limit: int
) -> list[TimelineItem]:
    """Every move of the deal(s) between stages; the first one (from nothing) is its creation."""
    src, dst = aliased(Stage), aliased(Stage)
    where = col(StageChange.deal_id) == deal_id if deal_id is not None else col(StageChange.deal_id).in_(live_deals)
    stmt = (
        select(
            col(StageChange.at),
            pk(StageChange.id),
            col(src.name),
            col(dst.name),
            col(dst.outcome),
            col(StageChange.by),
            col(StageChange.deal_id),
            col(Deal.title),
        )
        .join(Deal, pk(Deal.id) == col(StageChange.deal_id))
        .join(dst, pk(dst.id) == col(StageChange.to_stage_id))
        .outerjoin(src, pk(src.id) == col(StageChange.from_stage_id))
        .where(where, col(Deal.deleted_at).is_(None))
        .order_by(col(StageChange.at).desc(), pk(StageChange.id).desc())
        .limit(limit)
    )
    items = []
    for at, i, before, after, outcome, by, deal, deal_title in _rows(conn, stmt):
        if before is None:
            what = f"created in {after}"
        elif outcome == "won":
            what = f"won ({before} → {after})"
        elif outcome == "lost":
            what = f"lost ({before} → {after})"
        else:
            what = f"{before} → {after}"
        items.append(TimelineItem(at, "stage", what, by or "", "", "", deal, deal_title or "", i))
    return items


def _orders(
    conn: Any, deal_id: int | None, customer_id: int | None, live_deals: Select[int], limit: int
) -> list[TimelineItem]:
    """Each order's steps — created, approved, fulfilled, cancelled — as items of their own.

    The ``limit`` orders with the latest steps are read; each has a step at least as new as every
    step of the orders left out, so the newest ``limit`` steps of these are the newest of all."""
    latest = func.coalesce(
        col(Order.cancelled_at), col(Order.fulfilled_at), col(Order.approved_at), col(Order.created_at)
    )
    value = (
        select(func.coalesce(func.sum(bigint(col(OrderLine.quantity)) * col(OrderLine.unit_price_cents)), 0))
        .where(col(OrderLine.order_id) == pk(Order.id))
        .scalar_subquery()
    )
    title = select(col(Deal.title)).where(pk(Deal.id) == col(Order.deal_id)).scalar_subquery()
    where = col(Order.deal_id) == deal_id if deal_id is not None else col(Order.customer_id) == customer_id
    stmt = (
        select(
            pk(Order.id),
            col(Order.number),
            col(Order.owner),
            col(Order.created_at),
            col(Order.approved_at),
            col(Order.fulfilled_at),
            col(Order.cancelled_at),
            value,
            col(Order.deal_id),
            title,
        )
        .where(where)
        .order_by(latest.desc(), pk(Order.id).desc())
        .limit(limit)
    )
    items = []
    for i, number, owner, created, approved, fulfilled, cancelled, cents, deal, deal_title in _rows(conn, stmt):
        for at, step in (
            (created, "created"),
            (approved, "approved"),
            (fulfilled, "fulfilled"),
            (cancelled, "cancelled"),
        ):
            if at is not None:
                what = f"order {number} {step}"
                items.append(
                    TimelineItem(at, "order", what, owner or "", "", "", deal, deal_title or "", i, int(cents or 0))
                )
    items.sort(key=_newest_first)
    return items[:limit]
