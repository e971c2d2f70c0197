"""Jump-to-record search across customers and deals (the command palette)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from crm_tui.columns import col, pk
from crm_tui.models import Customer, Deal

if TYPE_CHECKING:
    from crm_tui.db import Database


@dataclass(frozen=True)
class RecordHit:
    kind: str  # "customer" or "deal"
    id: int
    label: str
    detail: str


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with %, _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_records(db: Database, text: str, *, limit: int = 20) -> list[RecordHit]:
    text = text.strip()
    if not text:
        return []
    pattern = like_pattern(text)
    with db.read() as session:
        conn = session.connection()
        customers = conn.execute(
            select(pk(Customer.id), col(Customer.name), col(Customer.status), col(Customer.owner))
            .where(col(Customer.deleted_at).is_(None), col(Customer.name).ilike(pattern, escape="\\"))
            .order_by(col(Customer.name))
            .limit(limit)
        ).all()
        deals = conn.execute(
            select(pk(Deal.id), col(Deal.title), col(Customer.name))
            .join(Customer, pk(Customer.id) == col(Deal.customer_id), isouter=True)
            .where(col(Deal.deleted_at).is_(None), col(Deal.title).ilike(pattern, escape="\\"))
            .order_by(col(Deal.title))
            .limit(limit)
        ).all()
    hits = [
        RecordHit("customer", cid, name, f"customer · {status} · {owner}") for cid, name, status, owner in customers
    ]
    hits += [RecordHit("deal", did, title, f"deal · {cname or 'no customer'}") for did, title, cname in deals]
    return hits
