"""The product catalogue's read side (no textual): every product with its code, list price and how
many deals and orders carry it, in one read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crm_tui.columns import col, pk
from crm_tui.models import Deal, DealProduct, OrderLine, Product

if TYPE_CHECKING:
    from crm_tui.db import Database


@dataclass(frozen=True)
class CatalogueRow:
    id: int
    name: str
    code: str
    unit_price_cents: int
    currency: str
    retired: bool
    deals: int  # live deals with a line of it
    orders: int  # orders with a line of it


def catalogue(db: Database, *, retired: bool = False) -> list[CatalogueRow]:
    """Products by name; the retired ones too when ``retired``. The deal and order counts are one
    grouped scan of each line table (a handful of products, however many lines)."""
    query = select(
        pk(Product.id),
        col(Product.name),
        col(Product.code),
        col(Product.unit_price_cents),
        col(Product.currency),
        col(Product.archived_at).is_not(None),
    ).order_by(col(Product.archived_at).is_not(None), col(Product.name_key), pk(Product.id))
    if not retired:
        query = query.where(col(Product.archived_at).is_(None))
    with db.read() as session:
        conn = session.connection()
        rows = conn.execute(query).all()
        deals = dict(
            conn.execute(
                select(col(DealProduct.product_id), func.count(func.distinct(col(DealProduct.deal_id))))
                .join(Deal, pk(Deal.id) == col(DealProduct.deal_id))
                .where(col(Deal.deleted_at).is_(None))
                .group_by(col(DealProduct.product_id))
            ).all()
        )
        orders = dict(
            conn.execute(
                select(col(OrderLine.product_id), func.count(func.distinct(col(OrderLine.order_id)))).group_by(
                    col(OrderLine.product_id)
                )
            ).all()
        )
    return [
        CatalogueRow(
            pid, name, code or "", int(price), currency, bool(gone), int(deals.get(pid, 0)), int(orders.get(pid, 0))
        )
        for pid, name, code, price, currency, gone in rows
    ]
