"""The customer detail view's read side (no textual): everything one customer's screen shows,
in one read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, select

from crm_tui.models import Contact, Customer, Deal, Note, Order, OrderLine, Stage, Task


@dataclass(frozen=True)
class ContactLine:
    id: int
    name: str
    title: str
    email: str
    phone: str


@dataclass(frozen=True)
class DealLine:
    id: int
    title: str
    stage: str
    outcome: str
    amount_cents: int
    currency: str


@dataclass(frozen=True)
class TaskLine:
    id: int
    kind: str
    subject: str
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    owner: str


@dataclass(frozen=True)
class OrderLineSummary:
    id: int
    number: str
    status: str
    value_cents: int
    created_at: dt.datetime


@dataclass(frozen=True)
class NoteLine:
    id: int
    body: str
    author: str
    created_at: dt.datetime


@dataclass(frozen=True)
class CustomerDetail:
    customer: dict  # every Customer field (as stored), including ``version``
    contacts: list[ContactLine]
    deals: list[DealLine]
    open_tasks: list[TaskLine]
    done_tasks: list[TaskLine]
    orders: list[OrderLineSummary]
    notes: list[NoteLine]  # newest first


def customer_detail(db, customer_id: int, *, task_limit: int = 50, note_limit: int = 200) -> CustomerDetail | None:
    """Everything the detail view shows, or None if the customer is gone (or deleted)."""
    with db.read() as session:
        row = session.get(Customer, customer_id)
        if row is None or row.deleted_at is not None:
            return None
        customer = row.model_dump()
        conn = session.connection()
        contacts = [
            ContactLine(*r)
            for r in conn.execute(
                select(Contact.id, Contact.name, Contact.title, Contact.email, Contact.phone)
                .where(Contact.customer_id == customer_id, Contact.deleted_at.is_(None))
                .order_by(Contact.name, Contact.id)
            )
        ]
        deals = [
            DealLine(*r)
            for r in conn.execute(
                select(Deal.id, Deal.title, Stage.name, Stage.outcome, Deal.amount_cents, Deal.currency)
                .join(Stage, Stage.id == Deal.stage_id)
                .where(Deal.customer_id == customer_id, Deal.deleted_at.is_(None))
                .order_by((Stage.outcome != "open"), Deal.created_at.desc(), Deal.id.desc())
            )
        ]
        task_cols = (Task.id, Task.kind, Task.subject, Task.due_at, Task.done_at, Task.owner)
        live_task = and_(Task.customer_id == customer_id, Task.deleted_at.is_(None))
        open_tasks = [
            TaskLine(*r)
            for r in conn.execute(
                select(*task_cols)
                .where(live_task, Task.done_at.is_(None))
                .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
                .limit(task_limit)
            )
        ]
        done_tasks = [
            TaskLine(*r)
            for r in conn.execute(
                select(*task_cols)
                .where(live_task, Task.done_at.is_not(None))
                .order_by(Task.done_at.desc(), Task.id.desc())
                .limit(task_limit)
            )
        ]
        value = func.coalesce(func.sum(OrderLine.quantity * OrderLine.unit_price_cents), 0)
        orders = [
            OrderLineSummary(r[0], r[1], r[2], int(r[3] or 0), r[4])
            for r in conn.execute(
                select(Order.id, Order.number, Order.status, value, Order.created_at)
                .outerjoin(OrderLine, OrderLine.order_id == Order.id)
                .where(Order.customer_id == customer_id)
                .group_by(Order.id, Order.number, Order.status, Order.created_at)
                .order_by(Order.created_at.desc(), Order.id.desc())
            )
        ]
        notes = [
            NoteLine(*r)
            for r in conn.execute(
                select(Note.id, Note.body, Note.author, Note.created_at)
                .where(Note.customer_id == customer_id, Note.deleted_at.is_(None))
                .order_by(Note.created_at.desc(), Note.id.desc())
                .limit(note_limit)
            )
        ]
    return CustomerDetail(customer, contacts, deals, open_tasks, done_tasks, orders, notes)
