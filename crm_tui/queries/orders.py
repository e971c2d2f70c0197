"""Orders: the list's pages, its summary per status, one order, and what the order form offers
(read side, no textual).

The list never loads every order: ``count_orders`` counts what a filter matches and
``fetch_orders`` reads one page, newest first — by keyset (ids below the last one of the
previous page) when the caller has it, else by OFFSET for a jump; ``first_orders`` reads a new
filter's first rows and its count in one read. A page's line counts and totals come from one
aggregate over the page's ids (the ``order_line.order_id`` index), never a query per row.
Statements are built once per shape of filter and run with bound values.

Orders of a deleted customer are left out everywhere, as the Reports' O and W leave them out,
so the summary's figures of the orders not cancelled are O and W.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, or_, select

from crm_tui.columns import bigint, col, pk
from crm_tui.models import FIG_ORDER, Customer, Deal, DealProduct, Order, OrderLine, Product
from crm_tui.money import Converter, load_rates_conn
from crm_tui.queries.order_types import (  # noqa: F401 (re-exported)
    ORDER_STATUSES,
    DraftLine,
    OrderDetail,
    OrderFilter,
    OrderLineView,
    OrderRow,
    OrderSummary,
    ProductChoice,
    StatusFigures,
)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Connection, Select

    from crm_tui.db import Database


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _live_customer() -> ColumnElement[bool]:
    """The order's customer is not deleted (the deleted ones are few: read once, probed per order)."""
    deleted = select(pk(Customer.id)).where(col(Customer.deleted_at).is_not(None))
    return col(Order.customer_id).not_in(deleted)


@lru_cache(maxsize=16)
def _where(status: bool, owner: bool, keyset: bool) -> tuple[ColumnElement[bool], ...]:
    conds = [_live_customer()]
    if status:
        conds.append(col(Order.status) == bindparam("status"))
    if owner:
        conds.append(col(Order.owner) == bindparam("owner"))
    if keyset:
        conds.append(pk(Order.id) < bindparam("after_id"))
    return tuple(conds)


def _values(filt: OrderFilter) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if filt.status is not None:
        values["status"] = filt.status
    if filt.owner is not None:
        values["owner"] = filt.owner
    return values


def _shape(filt: OrderFilter) -> tuple[bool, bool]:
    return filt.status is not None, filt.owner is not None


@lru_cache(maxsize=16)
def _count_statement(status: bool, owner: bool) -> Select[int]:
    return select(func.count()).select_from(Order).where(*_where(status, owner, False))


@lru_cache(maxsize=16)
def _page_statement(status: bool, owner: bool, keyset: bool) -> Select[tuple[Any, ...]]:
    page = (
        select(
            pk(Order.id),
            col(Order.number),
            col(Order.customer_id),
            col(Order.status),
            col(Order.owner),
            col(Order.created_at),
            col(Order.version),
            col(Order.currency),
        )
        .where(*_where(status, owner, keyset))
        .order_by(pk(Order.id).desc())
        .limit(bindparam("page_limit"))
        .offset(bindparam("page_offset"))
        .cte("page")  # used twice below; a CTE is computed once
    )
    lines = (
        select(
            col(OrderLine.order_id).label("order_id"),
            func.count().label("lines"),
            func.sum(bigint(col(OrderLine.quantity)) * col(OrderLine.unit_price_cents)).label("total"),
        )
        .where(col(OrderLine.order_id).in_(select(page.c.id)))
        .group_by(col(OrderLine.order_id))
        .subquery("lines")
    )
    return (
        select(
            page.c.id,
            page.c.number,
            page.c.customer_id,
            col(Customer.name),
            page.c.status,
            func.coalesce(lines.c.lines, 0),
            func.coalesce(lines.c.total, 0),
            page.c.owner,
            page.c.created_at,
            page.c.version,
            page.c.currency,
        )
        .select_from(page)
        .join(Customer, pk(Customer.id) == page.c.customer_id)
        .outerjoin(lines, lines.c.order_id == page.c.id)
        .order_by(page.c.id.desc())
    )


def _fetch(conn: Connection, filt: OrderFilter, at: int | None, after: int | None, limit: int) -> list[OrderRow]:
    values = dict(_values(filt), page_limit=max(0, int(limit)), page_offset=max(0, int(at or 0)))
    if after is not None:
        values.update(after_id=after, page_offset=0)
    rows = conn.execute(_page_statement(*_shape(filt), after is not None), values).all()
    home = load_rates_conn(conn).home
    return [
        OrderRow(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            int(r[5] or 0),
            int(r[6] or 0),
            r[7],
            _aware(r[8]),
            r[9],
            "" if (r[10] or home) == home else r[10],
        )
        for r in rows
    ]


def _count(conn: Connection, filt: OrderFilter) -> int:
    return int(conn.execute(_count_statement(*_shape(filt)), _values(filt)).scalar() or 0)


def count_orders(db: Database, filt: OrderFilter = OrderFilter()) -> int:
    with db.read() as session:
        return _count(session.connection(), filt)


def fetch_orders(
    db: Database, filt: OrderFilter = OrderFilter(), *, at: int = 0, after: int | None = None, limit: int = 200
) -> list[OrderRow]:
    """Up to ``limit`` orders, newest first: from offset ``at``, or below the id ``after`` (the
    last row of the previous page: a keyset the primary key seeks)."""
    with db.read() as session:
        return _fetch(session.connection(), filt, at, after, limit)


def first_orders(db: Database, filt: OrderFilter, limit: int) -> tuple[list[OrderRow], int]:
    """The first ``limit`` orders of a filter and how many it matches, in one read."""
    with db.read() as session:
        conn = session.connection()
        rows = _fetch(conn, filt, 0, None, limit)
        return rows, (len(rows) if len(rows) < limit else _count(conn, filt))


@lru_cache(maxsize=4)
def _position_statement(status: bool, owner: bool) -> Select[int]:
    return select(func.count()).select_from(Order).where(*_where(status, owner, False), pk(Order.id) > bindparam("id"))


def order_position(db: Database, filt: OrderFilter, order_id: int) -> int | None:
    """Where ``order_id`` sits in the filtered list (0-based), or None if it is not in it."""
    status, owner = _shape(filt)
    with db.read() as session:
        conn = session.connection()
        found = conn.execute(
            select(pk(Order.id)).where(*_where(status, owner, False), pk(Order.id) == bindparam("id")),
            dict(_values(filt), id=order_id),
        ).first()
        if found is None:
            return None
        return int(conn.execute(_position_statement(status, owner), dict(_values(filt), id=order_id)).scalar() or 0)


def order_summary(db: Database, owner: str | None = None) -> OrderSummary:
    """Orders and their line totals per status (``owner``'s only, when given), summed from the
    order figures the database keeps (``crm_tui.kept``: per owner, status and currency)."""
    o = FIG_ORDER.c
    q = select(o.status, o.currency, func.sum(o.n), func.sum(o.value))
    if owner is not None:
        q = q.where(o.owner == owner)
    with db.read() as session:
        conn = session.connection()
        conv = Converter(load_rates_conn(conn))  # per status and currency, each sum converted once
        counts: dict[str, int] = {}
        totals: dict[str, int] = {}
        mixed = False
        for status, currency, n, cents in conn.execute(q.group_by(o.status, o.currency)):
            if not n:
                continue
            mixed = mixed or currency != conv.home
            counts[status] = counts.get(status, 0) + int(n)
            totals[status] = totals.get(status, 0) + conv.cents(int(cents or 0), currency)
    return OrderSummary(
        {status: StatusFigures(n, totals.get(status, 0)) for status, n in counts.items()},
        conv.home,
        mixed,
        frozenset(conv.missing),
    )


def order_owners(db: Database) -> list[str]:
    """The owners of orders, each once, in name order."""
    with db.read() as session:
        rows = session.connection().execute(select(col(Order.owner)).distinct().order_by(col(Order.owner)))
        return [owner for (owner,) in rows if owner]


def load_order(db: Database, order_id: int) -> OrderDetail | None:
    """One order with its lines (in the order they were added); None when it does not exist."""
    with db.read() as session:
        order = session.get(Order, order_id)
        if order is None or order.id is None:
            return None
        conn = session.connection()
        customer = session.get(Customer, order.customer_id)
        deal = session.get(Deal, order.deal_id) if order.deal_id is not None else None
        lines = [
            OrderLineView(r[0], r[1], r[2], int(r[3]), int(r[4]))
            for r in conn.execute(
                select(
                    pk(OrderLine.id),
                    col(OrderLine.product_id),
                    col(Product.name),
                    col(OrderLine.quantity),
                    col(OrderLine.unit_price_cents),
                )
                .join(Product, pk(Product.id) == col(OrderLine.product_id))
                .where(col(OrderLine.order_id) == order_id)
                .order_by(pk(OrderLine.id))
            )
        ]
        stamps = (order.approved_at, order.fulfilled_at, order.cancelled_at)
        approved, fulfilled, cancelled = (_aware(s) if s is not None else None for s in stamps)
        return OrderDetail(
            order.id,
            order.number,
            order.status,
            order.customer_id,
            customer.name if customer is not None else f"#{order.customer_id}",
            order.deal_id,
            deal.title if deal is not None else "",
            order.owner,
            _aware(order.created_at),
            approved,
            fulfilled,
            cancelled,
            order.version,
            lines,
            order.currency or "USD",
        )


def product_choices(db: Database, *, keep_names: Collection[str] = ()) -> list[ProductChoice]:
    """The catalogue as the order form offers it, by name: the products not retired, and the retired
    ones named in ``keep_names`` (the lines being edited keep what they have)."""
    offered: ColumnElement[bool] = col(Product.archived_at).is_(None)
    if keep_names:
        offered = or_(offered, col(Product.name).in_(list(keep_names)))
    with db.read() as session:
        rows = session.connection().execute(
            select(pk(Product.id), col(Product.name), col(Product.unit_price_cents), col(Product.currency))
            .where(offered)
            .order_by(col(Product.name_key), pk(Product.id))
        )
        return [ProductChoice(r[0], r[1], int(r[2]), (r[3] or "USD").upper()) for r in rows]


def deal_draft_lines(db: Database, deal_id: int) -> list[DraftLine]:
    """A deal's product lines as an order form starts with them."""
    with db.read() as session:
        rows = session.connection().execute(
            select(col(Product.name), col(DealProduct.quantity), col(DealProduct.unit_price_cents))
            .join(Product, pk(Product.id) == col(DealProduct.product_id))
            .where(col(DealProduct.deal_id) == deal_id)
            .order_by(pk(DealProduct.id))
        )
        return [DraftLine(r[0], int(r[1]), int(r[2])) for r in rows]
