"""What the Orders list asks for and gets back, as plain dataclasses.

Kept apart from ``crm_tui.queries.orders`` (SQLAlchemy, the models), as ``customer_types`` is,
so the Orders screen holds its state without importing SQLModel; the queries import these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: an order's statuses, in the order it moves through them (services.orders.TRANSITIONS)
ORDER_STATUSES = ("draft", "approved", "fulfilled", "cancelled")


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None  # one of ORDER_STATUSES; None: every status
    owner: str | None = None  # the order's owner; None: everyone's


@dataclass(frozen=True)
class OrderRow:
    """One order as the list shows it (newest first: by id, descending)."""

    id: int
    number: str
    customer_id: int
    customer: str
    status: str
    lines: int
    total_cents: int
    owner: str
    created_at: dt.datetime
    version: int
    currency: str = ""  # its currency when it is not the home one (blank: the home currency)


@dataclass(frozen=True)
class StatusFigures:
    count: int = 0
    total_cents: int = 0


@dataclass(frozen=True)
class OrderSummary:
    """Counts and totals per status (of every status, whatever the list's status filter)."""

    by_status: dict[str, StatusFigures]
    currency: str = "USD"  # the home currency the totals are in
    mixed: bool = False  # some orders are in another currency (converted, or left out when ``missing``)
    missing: frozenset[str] = frozenset()  # currencies with no rate: left out of the totals

    def of(self, status: str) -> StatusFigures:
        return self.by_status.get(status, StatusFigures())

    @property
    def count(self) -> int:
        return sum(f.count for f in self.by_status.values())


@dataclass(frozen=True)
class OrderLineView:
    id: int
    product_id: int
    product: str
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class OrderDetail:
    id: int
    number: str
    status: str
    customer_id: int
    customer: str
    deal_id: int | None
    deal: str
    owner: str
    created_at: dt.datetime
    approved_at: dt.datetime | None
    fulfilled_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    version: int
    lines: list[OrderLineView]
    currency: str = "USD"  # the order's own: its lines' prices and total are in it

    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)


@dataclass(frozen=True)
class ProductChoice:
    """A catalogue product as the order form offers it."""

    id: int
    name: str
    unit_price_cents: int
    currency: str = "USD"  # an order's lines are in one currency: their products'


@dataclass(frozen=True)
class DraftLine:
    """A line as the order form starts with it (from a deal's product lines or a stored order)."""

    product: str
    quantity: int
    unit_price_cents: int | None
