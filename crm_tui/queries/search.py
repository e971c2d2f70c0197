"""Jump-to-record search across customers and deals (the command palette)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from crm_tui.models import Customer, Deal


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


def search_records(db, text: str, *, limit: int = 20) -> list[RecordHit]:
    text = text.strip()
    if not text:
        return []
    pattern = like_pattern(text)
    with db.read() as session:
        conn = session.connection()
        customers = conn.execute(
            select(Customer.id, Customer.name, Customer.status, Customer.owner)
            .where(Customer.deleted_at.is_(None), Customer.name.ilike(pattern, escape="\\"))
            .order_by(Customer.name)
            .limit(limit)
        ).all()
        deals = conn.execute(
            select(Deal.id, Deal.title, Customer.name)
            .join(Customer, Customer.id == Deal.customer_id, isouter=True)
            .where(Deal.deleted_at.is_(None), Deal.title.ilike(pattern, escape="\\"))
            .order_by(Deal.title)
            .limit(limit)
        ).all()
    hits = [
        RecordHit("customer", cid, name, f"customer · {status} · {owner}") for cid, name, status, owner in customers
    ]
    hits += [RecordHit("deal", did, title, f"deal · {cname or 'no customer'}") for did, title, cname in deals]
    return hits
