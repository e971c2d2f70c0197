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
from crm_tui.models import Customer, Deal, DealProduct, Order, OrderLine, Product, Task

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


def purchases(stages: list[StageInfo]) -> Subquery:
    """A subquery of purchases: (customer_id, at, value cents) — won deals and fulfilled orders."""
    won = ids_by_outcome(stages)["won"]
    won_deal = and_(live_deal(), col(Deal.stage_id).in_(won))
    deals: Select[int | None, dt.datetime, int] = select(
        col(Deal.customer_id).label("customer_id"),
        func.coalesce(col(Deal.closed_at), col(Deal.stage_entered_at)).label("at"),
        col(Deal.amount_cents).label("value"),
    ).where(won_deal, col(Deal.customer_id).is_not(None))
    ov = _order_values()
    won_deal_ids = select(pk(Deal.id)).where(won_deal)
    orders: Select[int, dt.datetime, int] = (
        select(
            col(Order.customer_id).label("customer_id"),
            func.coalesce(col(Order.fulfilled_at), col(Order.created_at)).label("at"),
            func.coalesce(ov.c.value, 0).label("value"),
        )
        .select_from(Order)
        .outerjoin(ov, ov.c.order_id == pk(Order.id))
        .where(
            col(Order.status) == "fulfilled",
            live_customer_ref(col(Order.customer_id)),
            or_(col(Order.deal_id).is_(None), col(Order.deal_id).not_in(won_deal_ids)),
        )
    )
    return union_all(deals, orders).subquery("purchase")


def customer_totals(conn: Connection, stages: list[StageInfo]) -> CustomerFigures:
    """``customers``: C = live customers, V = Σ purchase values (all time, all owners)."""
    count = conn.execute(select(func.count()).select_from(Customer).where(col(Customer.deleted_at).is_(None))).scalar()
    p = purchases(stages)
    value = conn.execute(select(func.coalesce(func.sum(p.c.value), 0))).scalar()
    return CustomerFigures(int(count or 0), int(value or 0))


def _live_order(filters: Filters) -> ColumnElement[bool]:
    return and_(
        col(Order.status) != "cancelled",
        live_customer_ref(col(Order.customer_id)),
        owner_cond(col(Order.owner), filters),
    )


def order_totals(conn: Connection, filters: Filters) -> OrderFigures:
    """``orders``: O = orders not cancelled, W = Σ of their line values."""
    count = conn.execute(select(func.count()).select_from(Order).where(_live_order(filters))).scalar()
    value = conn.execute(
        select(func.coalesce(func.sum(bigint(col(OrderLine.quantity)) * col(OrderLine.unit_price_cents)), 0))
        .select_from(OrderLine)
        .join(Order, pk(Order.id) == col(OrderLine.order_id))
        .where(_live_order(filters))
    ).scalar()
    return OrderFigures(int(count or 0), int(value or 0))


def task_totals(conn: Connection, filters: Filters, now: dt.datetime) -> TaskTotals:
    """``tasks`` at ``now``; "today" is the UTC date of ``now``.

    open: not done; overdue: open and due before now; due_today: open and due
    on today's UTC date (a task due earlier today is both overdue and due
    today); done: done; on_time_rate: done by the due time ÷ done with a due
    time (None when no done task had one).
    """
    today = day_start(now.date())
    tomorrow = today + dt.timedelta(days=1)
    is_open = col(Task.done_at).is_(None)
    is_done = col(Task.done_at).is_not(None)

    def n(cond: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    q = select(
        n(is_open),
        n(and_(is_open, col(Task.due_at) < now)),
        n(and_(is_open, col(Task.due_at) >= today, col(Task.due_at) < tomorrow)),
        n(is_done),
        n(and_(is_done, col(Task.due_at).is_not(None), col(Task.done_at) <= col(Task.due_at))),
        n(and_(is_done, col(Task.due_at).is_not(None))),
    ).where(live_task(), owner_cond(col(Task.owner), filters))
    open_, overdue, due_today, done, on_time, done_due = (int(v) for v in conn.execute(q).one())
    return {
        "open": open_,
        "overdue": overdue,
        "due_today": due_today,
        "done": done,
        "on_time_rate": rate(on_time, done_due),
    }


def market_demand(conn: Connection, stages: list[StageInfo], filters: Filters) -> tuple[DemandFigures, ...]:
    """M = P × Q per product: Σ quantity on open deals' lines × the product's unit price."""
    open_ids = ids_by_outcome(stages)["open"]
    qty = func.sum(col(DealProduct.quantity)).label("qty")
    q = (
        select(col(Product.name), col(Product.unit_price_cents), qty)
        .select_from(DealProduct)
        .join(Deal, pk(Deal.id) == col(DealProduct.deal_id))
        .join(Product, pk(Product.id) == col(DealProduct.product_id))
        .where(live_deal(), col(Deal.stage_id).in_(open_ids), owner_cond(col(Deal.owner), filters))
        .group_by(pk(Product.id), col(Product.name), col(Product.unit_price_cents))
        .having(qty > 0)
        .order_by((qty * col(Product.unit_price_cents)).desc(), col(Product.name))
    )
    return tuple(DemandFigures(name, int(q_), int(price)) for name, price, q_ in conn.execute(q))
