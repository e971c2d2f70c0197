"""Customer value, orders, tasks and market demand: one aggregate query each.

Purchases (what customer value V and the RFM segments are made of) are the
won deals plus the fulfilled orders that did not come from a won deal, so an
order generated from a won deal is never counted twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, func, or_, select, union_all

from crm_tui.metrics._common import (
    Filters,
    StageInfo,
    day_start,
    ids_by_outcome,
    live_customer_ref,
    live_deal,
    owner_cond,
    rate,
)
from crm_tui.models import Customer, Deal, DealProduct, Order, OrderLine, Product, Task
from crm_tui.textnorm import cents_to_major


def _order_values():
    """order_id → Σ quantity × unit price of its lines (cents)."""
    return (
        select(
            OrderLine.order_id.label("order_id"),
            func.sum(OrderLine.quantity * OrderLine.unit_price_cents).label("value"),
        )
        .group_by(OrderLine.order_id)
        .subquery("order_value")
    )


def purchases(stages: list[StageInfo]):
    """A subquery of purchases: (customer_id, at, value cents) — won deals and fulfilled orders."""
    won = ids_by_outcome(stages)["won"]
    won_deal = and_(live_deal(), Deal.stage_id.in_(won))
    deals = select(
        Deal.customer_id.label("customer_id"),
        func.coalesce(Deal.closed_at, Deal.stage_entered_at).label("at"),
        Deal.amount_cents.label("value"),
    ).where(won_deal, Deal.customer_id.is_not(None))
    ov = _order_values()
    won_deal_ids = select(Deal.id).where(won_deal)
    orders = (
        select(
            Order.customer_id.label("customer_id"),
            func.coalesce(Order.fulfilled_at, Order.created_at).label("at"),
            func.coalesce(ov.c.value, 0).label("value"),
        )
        .select_from(Order)
        .outerjoin(ov, ov.c.order_id == Order.id)
        .where(
            Order.status == "fulfilled",
            live_customer_ref(Order.customer_id),
            or_(Order.deal_id.is_(None), Order.deal_id.not_in(won_deal_ids)),
        )
    )
    return union_all(deals, orders).subquery("purchase")


def customer_totals(conn, stages: list[StageInfo]) -> dict:
    """``customers``: C = live customers, V = Σ purchase values (all time, all owners)."""
    count = conn.execute(select(func.count()).select_from(Customer).where(Customer.deleted_at.is_(None))).scalar()
    p = purchases(stages)
    value = conn.execute(select(func.coalesce(func.sum(p.c.value), 0))).scalar()
    return {"count": int(count or 0), "value": cents_to_major(int(value or 0))}


def _live_order(filters: Filters):
    return and_(Order.status != "cancelled", live_customer_ref(Order.customer_id), owner_cond(Order.owner, filters))


def order_totals(conn, filters: Filters) -> dict:
    """``orders``: O = orders not cancelled, W = Σ of their line values."""
    count = conn.execute(select(func.count()).select_from(Order).where(_live_order(filters))).scalar()
    value = conn.execute(
        select(func.coalesce(func.sum(OrderLine.quantity * OrderLine.unit_price_cents), 0))
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .where(_live_order(filters))
    ).scalar()
    return {"count": int(count or 0), "value": cents_to_major(int(value or 0))}


def task_totals(conn, filters: Filters, now: dt.datetime) -> dict:
    """``tasks`` at ``now``; "today" is the UTC date of ``now``.

    open: not done; overdue: open and due before now; due_today: open and due
    on today's UTC date (a task due earlier today is both overdue and due
    today); done: done; on_time_rate: done by the due time ÷ done with a due
    time (None when no done task had one).
    """
    today = day_start(now.date())
    tomorrow = today + dt.timedelta(days=1)
    is_open = Task.done_at.is_(None)
    is_done = Task.done_at.is_not(None)

    def n(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    deleted_deals = select(Deal.id).where(Deal.deleted_at.is_not(None))
    q = select(
        n(is_open),
        n(and_(is_open, Task.due_at < now)),
        n(and_(is_open, Task.due_at >= today, Task.due_at < tomorrow)),
        n(is_done),
        n(and_(is_done, Task.due_at.is_not(None), Task.done_at <= Task.due_at)),
        n(and_(is_done, Task.due_at.is_not(None))),
    ).where(
        Task.deleted_at.is_(None),
        live_customer_ref(Task.customer_id),
        or_(Task.deal_id.is_(None), Task.deal_id.not_in(deleted_deals)),
        owner_cond(Task.owner, filters),
    )
    open_, overdue, due_today, done, on_time, done_due = (int(v) for v in conn.execute(q).one())
    return {
        "open": open_,
        "overdue": overdue,
        "due_today": due_today,
        "done": done,
        "on_time_rate": rate(on_time, done_due),
    }


def market_demand(conn, stages: list[StageInfo], filters: Filters) -> list[dict]:
    """M = P × Q per product: Σ quantity on open deals' lines × the product's unit price."""
    open_ids = ids_by_outcome(stages)["open"]
    qty = func.sum(DealProduct.quantity).label("qty")
    q = (
        select(Product.name, Product.unit_price_cents, qty)
        .select_from(DealProduct)
        .join(Deal, Deal.id == DealProduct.deal_id)
        .join(Product, Product.id == DealProduct.product_id)
        .where(live_deal(), Deal.stage_id.in_(open_ids), owner_cond(Deal.owner, filters))
        .group_by(Product.id, Product.name, Product.unit_price_cents)
        .having(qty > 0)
        .order_by((qty * Product.unit_price_cents).desc(), Product.name)
    )
    return [
        {
            "product": name,
            "quantity": int(q_),
            "unit_price": cents_to_major(price),
            "demand": cents_to_major(int(q_) * int(price)),
        }
        for name, price, q_ in conn.execute(q)
    ]
