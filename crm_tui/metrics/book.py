"""Customer value, orders, tasks and market demand: one aggregate query each.

Purchases (what customer value V and the RFM segments are made of) are the
won deals plus the fulfilled orders that did not come from a won deal, so an
order generated from a won deal is never counted twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func, or_, select, union_all

from crm_tui.columns import bigint, col, pk
from crm_tui.metrics._common import (
    Filters,
    StageInfo,
    day_start,
    ids_by_outcome,
    live_customer_ref,
    live_deal,
    live_task,
    owner_cond,
    rate,
)
from crm_tui.metrics.figures import CustomerFigures, DemandFigures, OrderFigures
from crm_tui.models import (
    FIG_BUYER,
    FIG_DEMAND,
    FIG_ORDER,
    FIG_TASK,
    Customer,
    Deal,
    Order,
    OrderLine,
    Product,
    Task,
)
from crm_tui.money import Converter, load_rates_conn

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Connection, Select, Subquery

    from crm_tui.metrics.shapes import TaskTotals


def _order_values() -> Subquery:
    """order_id → Σ quantity × unit price of its lines (cents)."""
    return (
        select(
            col(OrderLine.order_id).label("order_id"),
            func.sum(bigint(col(OrderLine.quantity)) * col(OrderLine.unit_price_cents)).label("value"),
        )
        .group_by(col(OrderLine.order_id))
        .subquery("order_value")
    )


def _conv(conn: Connection, conv: Converter | None) -> Converter:
    return conv if conv is not None else Converter(load_rates_conn(conn))


def purchases(stages: list[StageInfo], name: str = "purchase") -> Subquery:
    """A subquery of purchases: (customer_id, at, value cents, currency) — won deals and
    fulfilled orders, each in its own currency."""
    won = ids_by_outcome(stages)["won"]
    won_deal = and_(live_deal(), col(Deal.stage_id).in_(won))
    deals: Select[int | None, dt.datetime, int, str] = select(
        col(Deal.customer_id).label("customer_id"),
        func.coalesce(col(Deal.closed_at), col(Deal.stage_entered_at)).label("at"),
        col(Deal.amount_cents).label("value"),
        col(Deal.currency).label("currency"),
    ).where(won_deal, col(Deal.customer_id).is_not(None))
    ov = _order_values()
    won_deal_ids = select(pk(Deal.id)).where(won_deal)
    orders: Select[int, dt.datetime, int, str] = (
        select(
            col(Order.customer_id).label("customer_id"),
            func.coalesce(col(Order.fulfilled_at), col(Order.created_at)).label("at"),
            func.coalesce(ov.c.value, 0).label("value"),
            col(Order.currency).label("currency"),
        )
        .select_from(Order)
        .outerjoin(ov, ov.c.order_id == pk(Order.id))
        .where(
            col(Order.status) == "fulfilled",
            live_customer_ref(col(Order.customer_id)),
            or_(col(Order.deal_id).is_(None), col(Order.deal_id).not_in(won_deal_ids)),
        )
    )
    return union_all(deals, orders).subquery(name)


def customer_totals(conn: Connection, stages: list[StageInfo], conv: Converter | None = None) -> CustomerFigures:
    """``customers``: C = live customers, V = Σ purchase values (all time, all owners; home currency),
    V from the purchases the database keeps per customer and currency (``crm_tui.kept``)."""
    conv = _conv(conn, conv)
    count = conn.execute(select(func.count()).select_from(Customer).where(col(Customer.deleted_at).is_(None))).scalar()
    b = FIG_BUYER.c
    sums = conn.execute(select(b.currency, func.coalesce(func.sum(b.value), 0)).group_by(b.currency))
    return CustomerFigures(int(count or 0), conv.total((c, int(v or 0)) for c, v in sums))


def order_totals(conn: Connection, filters: Filters, conv: Converter | None = None) -> OrderFigures:
    """``orders``: O = orders not cancelled, W = Σ of their line values (home currency), summed from
    the order figures the database keeps (``crm_tui.kept``)."""
    conv = _conv(conn, conv)
    o = FIG_ORDER.c
    q = select(o.currency, func.coalesce(func.sum(o.n), 0), func.coalesce(func.sum(o.value), 0)).where(
        o.status != "cancelled"
    )
    if filters.owner is not None:
        q = q.where(o.owner == filters.owner)
    rows = [(c, int(n), int(v)) for c, n, v in conn.execute(q.group_by(o.currency))]
    return OrderFigures(sum(n for _c, n, _v in rows), conv.total((c, v) for c, _n, v in rows))


def task_totals(conn: Connection, filters: Filters, now: dt.datetime) -> TaskTotals:
    """``tasks`` at ``now``; "today" is the UTC date of ``now``.

    open: not done; overdue: open and due before now; due_today: open and due
    on today's UTC date (a task due earlier today is both overdue and due
    today); done: done; on_time_rate: done by the due time ÷ done with a due
    time (None when no done task had one). Summed from the task figures the database keeps
    (``crm_tui.kept``: open tasks by day due), and today's open tasks due before ``now`` read
    from the tasks themselves (the only part finer than a day).
    """
    today = day_start(now.date())
    t = FIG_TASK.c
    is_open = t.done_day == ""

    def n(cond: ColumnElement[bool], measure: ColumnElement[int] = t.n) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((cond, measure), else_=0)), 0)

    day = today.date().isoformat()
    q = select(
        n(is_open),
        n(and_(is_open, t.due_day != "", t.due_day < day)),
        n(and_(is_open, t.due_day == day)),
        n(~is_open),
        n(~is_open, t.on_time),
        n(~is_open, t.with_due),
    )
    if filters.owner is not None:
        q = q.where(t.owner == filters.owner)
    open_, overdue, due_today, done, on_time, done_due = (int(v) for v in conn.execute(q).one())
    earlier_today = conn.execute(
        select(func.count()).where(
            col(Task.done_at).is_(None),
            col(Task.due_at) >= today,
            col(Task.due_at) < now,
            live_task(),
            owner_cond(col(Task.owner), filters),
        )
    ).scalar()
    return {
        "open": open_,
        "overdue": overdue + int(earlier_today or 0),
        "due_today": due_today,
        "done": done,
        "on_time_rate": rate(on_time, done_due),
    }


def market_demand(
    conn: Connection, stages: list[StageInfo], filters: Filters, conv: Converter | None = None
) -> tuple[DemandFigures, ...]:
    """M = P × Q per product: Σ quantity on open deals' lines × the product's unit price, the
    price in the home currency (a product priced in a currency with no rate is left out, named);
    the quantities summed from the demand the database keeps (``crm_tui.kept``)."""
    conv = _conv(conn, conv)
    open_ids = ids_by_outcome(stages)["open"]
    if not open_ids:
        return ()
    m = FIG_DEMAND.c
    qty = func.sum(m.quantity).label("qty")
    where: list[ColumnElement[bool]] = [m.stage_id.in_(open_ids)]
    if filters.owner is not None:
        where.append(m.owner == filters.owner)
    q = (
        select(col(Product.name), col(Product.unit_price_cents), qty, col(Product.currency))
        .select_from(FIG_DEMAND)
        .join(Product, pk(Product.id) == m.product_id)
        .where(*where)
        .group_by(pk(Product.id), col(Product.name), col(Product.unit_price_cents), col(Product.currency))
        .having(qty > 0)
        .order_by((qty * col(Product.unit_price_cents)).desc(), col(Product.name))
    )
    rows = [
        DemandFigures(name, int(q_), conv.cents(int(price), currency))
        for name, price, q_, currency in conn.execute(q)
        if conv.known(currency)
    ]
    rows.sort(key=lambda r: -r.demand_cents)  # converted prices may reorder them (stable: names stay in order)
    return tuple(rows)
