"""What the customer list asks for — filter, sort, keyset — as plain dataclasses.

Kept apart from ``crm_tui.queries.customers`` (SQLAlchemy, the models) so the
Customers screen can hold its state before the first paint without importing
SQLModel; the queries import these same classes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

#: the columns the list can be sorted by (``queries.customers.SORT_COLUMNS`` maps them to SQL)
SORT_KEYS = ("name", "status", "owner", "email", "phone", "industry", "tags", "updated")


@dataclass(frozen=True)
class CustomerFilter:
    text: str = ""
    status: str | None = None
    owner: str | None = None
    tag: str | None = None
    #: customers of the chosen segment (from metrics.customer_segments); None = no segment filter
    segment_ids: frozenset[int] | None = None


@dataclass(frozen=True)
class Sort:
    column: str = "name"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.column not in SORT_KEYS:
            raise ValueError(f"cannot sort customers by {self.column!r}; use one of {', '.join(SORT_KEYS)}")


@dataclass(frozen=True)
class Keyset:
    """Where the previous page ended: its last row's sort value and id."""

    value: object
    id: int


@dataclass(frozen=True)
class CustomerRow:
    id: int
    name: str
    status: str
    owner: str
    email: str
    phone: str
    industry: str
    tags: str
    open_value_cents: int
    updated_at: dt.datetime
    sort_value: object = field(default=None, compare=False, repr=False)

    @property
    def keyset(self) -> Keyset:
        return Keyset(self.sort_value, self.id)
