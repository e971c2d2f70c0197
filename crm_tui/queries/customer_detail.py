"""The customer detail view's read side (no textual): everything one customer's screen shows,
in one read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select

from crm_tui.columns import bigint, col, pk
from crm_tui.models import Contact, Customer, Deal, Note, Order, OrderLine, Stage, Task
from crm_tui.money import Converted, Rates, load_rates

if TYPE_CHECKING:
    from crm_tui.db import Database


@dataclass(frozen=True)
class ContactLine:
    id: int
    name: str
    title: str
    email: str
    phone: str
    version: int = 1  # what an edit checks it still is (another session's edit is not overwritten)


@dataclass(frozen=True)
class NoteLine:
    """A note of the customer or one of its deals (the timeline shows it; ``N`` picks it to edit)."""

    id: int
    body: str
    author: str
    created_at: dt.datetime
    deal: str = ""  # the deal's title when the note is about one


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
    currency: str = "USD"  # the order's own


@dataclass(frozen=True)
class CustomerDetail:
    customer: dict[str, Any]  # every Customer field (as stored, so of its column's type), including ``version``
    contacts: list[ContactLine]
    deals: list[DealLine]
    open_tasks: list[TaskLine]
    done_tasks: list[TaskLine]
    orders: list[OrderLineSummary]
    notes: list[NoteLine] = field(default_factory=list)  # newest first, at most ``note_limit``
    #: the home currency and rates its open deals' total is converted with
    rates: Rates = field(default_factory=Rates)

    def open_total(self) -> Converted:
        """Σ its open deals in the home currency (summed per currency, each sum converted once;
        a currency with no rate left out and named)."""
        sums: dict[str, int] = {}
        for deal in self.deals:
            if deal.outcome == "open":
                sums[deal.currency] = sums.get(deal.currency, 0) + deal.amount_cents
        return self.rates.convert(sums.items())

    # its notes, done activities, stage changes and orders in time: crm_tui.queries.timeline


def customer_detail(
    db: Database, customer_id: int, *, task_limit: int = 50, note_limit: int = 200
) -> CustomerDetail | None:
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
                select(
                    pk(Contact.id),
                    col(Contact.name),
                    col(Contact.title),
                    col(Contact.email),
                    col(Contact.phone),
                    col(Contact.version),
                )
                .where(col(Contact.customer_id) == customer_id, col(Contact.deleted_at).is_(None))
                .order_by(col(Contact.name), pk(Contact.id))
            )
        ]
        deals = [
            DealLine(*r)
            for r in conn.execute(
                select(
                    pk(Deal.id),
                    col(Deal.title),
                    col(Stage.name),
                    col(Stage.outcome),
                    col(Deal.amount_cents),
                    col(Deal.currency),
                )
                .join(Stage, pk(Stage.id) == col(Deal.stage_id))
                .where(col(Deal.customer_id) == customer_id, col(Deal.deleted_at).is_(None))
                .order_by((col(Stage.outcome) != "open"), col(Deal.created_at).desc(), pk(Deal.id).desc())
            )
        ]
        task_cols = (
            pk(Task.id),
            col(Task.kind),
            col(Task.subject),
            col(Task.due_at),
            col(Task.done_at),
            col(Task.owner),
        )
        live_task = and_(col(Task.customer_id) == customer_id, col(Task.deleted_at).is_(None))
        open_tasks = [
            TaskLine(*r)
            for r in conn.execute(
                select(*task_cols)
                .where(live_task, col(Task.done_at).is_(None))
                .order_by(col(Task.due_at).is_(None), col(Task.due_at), pk(Task.id))
                .limit(task_limit)
            )
        ]
        done_tasks = [
            TaskLine(*r)
            for r in conn.execute(
                select(*task_cols)
                .where(live_task, col(Task.done_at).is_not(None))
                .order_by(col(Task.done_at).desc(), pk(Task.id).desc())
                .limit(task_limit)
            )
        ]
        value = func.coalesce(func.sum(bigint(col(OrderLine.quantity)) * col(OrderLine.unit_price_cents)), 0)
        orders = [
            OrderLineSummary(r[0], r[1], r[2], int(r[3] or 0), r[4], r[5] or "USD")
            for r in conn.execute(
                select(
                    pk(Order.id),
                    col(Order.number),
                    col(Order.status),
                    value,
                    col(Order.created_at),
                    col(Order.currency),
                )
                .outerjoin(OrderLine, col(OrderLine.order_id) == pk(Order.id))
                .where(col(Order.customer_id) == customer_id)
                .group_by(
                    pk(Order.id), col(Order.number), col(Order.status), col(Order.created_at), col(Order.currency)
                )
                .order_by(col(Order.created_at).desc(), pk(Order.id).desc())
            )
        ]
        notes = [
            NoteLine(r[0], r[1], r[2] or "", r[3], r[4] or "")
            for r in conn.execute(
                select(pk(Note.id), col(Note.body), col(Note.author), col(Note.created_at), col(Deal.title))
                .outerjoin(Deal, and_(pk(Deal.id) == col(Note.deal_id), col(Deal.deleted_at).is_(None)))
                .where(col(Note.customer_id) == customer_id, col(Note.deleted_at).is_(None))
                .order_by(col(Note.created_at).desc(), pk(Note.id).desc())
                .limit(note_limit)
            )
        ]
        rates = load_rates(session)
    return CustomerDetail(customer, contacts, deals, open_tasks, done_tasks, orders, notes, rates)


def deal_notes(db: Database, deal_id: int, *, limit: int = 200) -> list[NoteLine]:
    """A deal's live notes, newest first (``N`` on the deal page picks one to edit or delete)."""
    with db.read() as session:
        rows = session.connection().execute(
            select(pk(Note.id), col(Note.body), col(Note.author), col(Note.created_at))
            .where(col(Note.deal_id) == deal_id, col(Note.deleted_at).is_(None))
            .order_by(col(Note.created_at).desc(), pk(Note.id).desc())
            .limit(limit)
        )
        return [NoteLine(r[0], r[1], r[2] or "", r[3]) for r in rows]
