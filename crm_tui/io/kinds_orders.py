"""Importing orders (``crm_tui.io.importer`` maps the "orders" kind to ``import_orders``).

Matching: the order number. The lines of one number form one order; its own fields (customer,
status, deal, owner, currency, created_at) come from its first line, and one rejected line rejects
the whole order. A re-import updates that order and replaces its lines; a file without a
``created_at`` or ``currency`` column keeps the order's dates or currency. Counts are orders, not
lines. A line's price is ``line_total`` ÷ quantity, else ``unit_price``, else the product's list
price.

The customer is found by its record id in the source CRM (``customer_external_id``) before its
name; a customer created here gets the status "customer". The deal cell is a deal's external id,
else its title. The lookups shared with the other importers live in ``kinds_other``.
"""

from __future__ import annotations

import pandas as pd

from crm_tui.io import resolve as R
from crm_tui.io.kinds_deals import _div_round
from crm_tui.io.kinds_other import _deal_ids, _exec_updates, _insert_ids, _lookup, _versions
from crm_tui.models import Order, OrderLine
from crm_tui.money import load_rates_conn

ORDER_STATUS = {
    "draft": "draft",
    "new": "draft",
    "quote": "draft",
    "pending": "draft",
    "created": "draft",
    "approved": "approved",
    "confirmed": "approved",
    "in process": "approved",
    "processing": "approved",
    "on hold": "approved",
    "disputed": "approved",
    "open": "approved",
    "booked": "approved",
    "fulfilled": "fulfilled",
    "shipped": "fulfilled",
    "delivered": "fulfilled",
    "completed": "fulfilled",
    "complete": "fulfilled",
    "closed": "fulfilled",
    "resolved": "fulfilled",
    "invoiced": "fulfilled",
    "paid": "fulfilled",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "void": "cancelled",
}


def import_orders(conn, ctx):
    number = ctx.text("number")
    ctx.reject(number == "", "number is required; the row has no order number")
    customer = ctx.text("customer")
    status = ctx.choice("status", ORDER_STATUS, "draft", ("draft", "approved", "fulfilled", "cancelled"))
    created = ctx.dates("created_at")
    product = ctx.text("product")
    qty = ctx.integers("quantity", low=1, hint="a whole number ≥ 1")
    unit = ctx.money("unit_price")
    total = ctx.money("line_total")
    line_no = ctx.integers("line_number")
    deal = ctx.text("deal")
    owner = ctx.text("owner")
    # An order's currency (its lines' prices are in it): blank, the home currency.
    currency = ctx.text("currency").str.upper()
    bad_currency = (currency != "") & ~currency.str.fullmatch(r"[A-Z]{3}")
    ctx.reject(
        bad_currency, currency[bad_currency].map(lambda c: f"currency must be a 3-letter code such as EUR, got {c!r}")
    )

    currency = currency.where(currency != "", load_rates_conn(conn).home)
    # The order's own fields come from its first row; one bad line rejects the whole order.
    first = ~number.duplicated(keep="first")
    ref_text = ctx.text("customer_external_id")
    head_customer = number.map(dict(zip(number[first], customer[first] + ref_text[first])))
    ctx.reject((number != "") & (head_customer == ""), "customer is required on an order's first line")
    bad_numbers = set(number[~ctx.ok])
    sibling = ctx.ok & number.isin(bad_numbers)
    ctx.reject(sibling, "another line of this order was rejected; the order is imported whole or not at all")
    deal_ids = _deal_ids(conn, ctx, deal)
    bad_numbers = set(number[~ctx.ok])
    ctx.reject(ctx.ok & number.isin(bad_numbers), "another line of this order was rejected")
    ok = ctx.ok
    heads = ok & first
    refs = ref_text.where(heads, "") if ctx.has("customer_external_id") else None
    cust = R.customer_ids(
        conn, ctx, customer.where(heads, ""), status_for_new=pd.Series("customer", index=number.index), refs=refs
    )
    bad_numbers = set(number[~ctx.ok])
    ctx.reject(ctx.ok & number.isin(bad_numbers), "another line of this order was rejected")
    ok = ctx.ok
    heads = ok & first
    prod_ids, list_prices = R.product_ids(conn, ctx, product.where(ok, ""), unit)
    q = qty.fillna(1).astype("int64")
    price = unit.copy()
    has_total = total.notna()
    price[has_total] = _div_round(total[has_total].astype("int64"), q[has_total])
    price = price.where(price.notna(), list_prices).fillna(0).astype("int64")
    now = pd.Timestamp(ctx.now)
    at = created.where(created.notna(), now)
    st = status
    head = pd.DataFrame(
        {
            "number": number,
            "customer_id": cust,
            "deal_id": deal_ids,
            "status": st,
            "owner": owner,
            "currency": currency,
            "created_at": at,
            "approved_at": at.where(st.isin(["approved", "fulfilled"]), pd.NaT),
            "fulfilled_at": at.where(st == "fulfilled", pd.NaT),
            "cancelled_at": at.where(st == "cancelled", pd.NaT),
            "updated_at": now,
            "version": 1,
        }
    )[heads]
    existing = _lookup(conn, Order.number, Order.id, head.number.tolist())
    new_heads = head[~head.number.isin(set(existing))]
    new_ids = _insert_ids(conn, ctx, Order.__table__, R.rows_from(new_heads, conn.dialect))
    order_id = dict(zip(new_heads.number, new_ids))
    upd_heads = head[head.number.isin(set(existing))]
    versions = _versions(conn, Order, [existing[n] for n in upd_heads.number])
    urows = []
    for num, rec in zip(upd_heads.number, R.rows_from(upd_heads)):
        oid = existing[num]
        rec.pop("number")
        rec = {k: v for k, v in rec.items() if v is not None or k.endswith("_at")}
        rec.update({"b_id": oid, "version": versions[oid] + 1})
        if not ctx.has("created_at"):
            for k in ("created_at", "approved_at", "fulfilled_at", "cancelled_at"):
                rec.pop(k, None)
        if not ctx.has("currency"):  # a file without the column keeps each order's currency
            rec.pop("currency", None)
        urows.append(rec)
        order_id[num] = oid
    _exec_updates(ctx, Order.__table__, urows)
    ctx.stage.delete_in(OrderLine.__table__, "order_id", [r["b_id"] for r in urows])
    lines = ok & prod_ids.notna()
    frame = pd.DataFrame(
        {"number": number, "line": line_no.fillna(0), "product_id": prod_ids, "quantity": q, "unit_price_cents": price}
    )[lines]
    frame = frame.sort_values(["number", "line"], kind="stable")
    line_rows = [
        {"order_id": int(order_id[n]), "product_id": int(p), "quantity": int(k), "unit_price_cents": int(u)}
        for n, p, k, u in zip(frame.number, frame.product_id, frame.quantity, frame.unit_price_cents)
    ]
    ctx.stage.insert(OrderLine.__table__, line_rows)
    return len(new_ids), len(urows)
