"""Finding or creating the records a row names: customers, products, deals.

Every lookup works on the distinct values of a column (a few hundred names
for 100,000 rows), then maps the answer back onto the rows with pandas. Records
to create are staged (``ctx.stage``, see ``crm_tui.io.staging``), not written.
"""

from __future__ import annotations

from sqlalchemy import func, select

from crm_tui.models import Customer, Deal, Product
from crm_tui.textnorm import name_key

IN_CHUNK = 500


def keys_of(names):
    """Series of names → Series of name keys ('' for blank), computed once per distinct name."""
    uniq = {u: (name_key(u) if u else "") for u in names.unique()}
    return names.map(uniq)


def _chunks(items, size=IN_CHUNK):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def rows_from(frame, dialect=None) -> list[dict]:
    """A frame → list of dicts with None for missing values (for executemany); with a
    dialect, timestamp columns are converted for ``engines.bulk_insert_rows`` at once."""
    import pandas as pd

    from crm_tui import engines

    cols = list(frame.columns)
    arrays = []
    for c in cols:
        s = frame[c]
        if dialect is not None and isinstance(s.dtype, pd.DatetimeTZDtype):
            arrays.append(engines.bulk_timestamps(s, dialect))
            continue
        arr = s.astype(object).where(s.notna(), None).to_numpy(dtype=object)
        arrays.append(arr)
    return [dict(zip(cols, vals)) for vals in zip(*arrays)]


def existing_customers(conn, keys) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(k for k in keys if k):
        q = (
            select(Customer.name_key, func.min(Customer.id))
            .where(Customer.deleted_at.is_(None), Customer.name_key.in_(chunk))
            .group_by(Customer.name_key)
        )
        found.update({k: i for k, i in conn.execute(q)})
    return found


def customer_ids(conn, ctx, names, *, status_for_new=None, owners=None):
    """Rows' customer names → customer ids (Int64, NA for blank); unknown names are created."""
    import pandas as pd

    keys = keys_of(names)
    uniq = [k for k in keys.unique() if k]
    found = existing_customers(conn, uniq)
    missing = [k for k in uniq if k not in found]
    if missing:
        first = pd.DataFrame({"key": keys, "name": names})
        if status_for_new is not None:
            first["status"] = status_for_new
        if owners is not None:
            first["owner"] = owners
        first = first[first.key.isin(set(missing))].drop_duplicates("key")
        rows = []
        for rec in first.to_dict("records"):
            rows.append(
                {
                    "name": rec["name"],
                    "name_key": rec["key"],
                    "kind": "company",
                    "status": rec.get("status") or "lead",
                    "owner": rec.get("owner") or "",
                    "email": "",
                    "phone": "",
                    "website": "",
                    "industry": "",
                    "tags": "",
                    "source": "import",
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                    "version": 1,
                }
            )
        keys_made = [row["name_key"] for row in rows]
        found.update(zip(keys_made, ctx.stage.insert(Customer.__table__, rows)))
        ctx.also_created["customers"] = ctx.also_created.get("customers", 0) + len(rows)
    return keys.map(found).astype("Int64")


def existing_products(conn, keys) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(k for k in keys if k):
        q = select(Product.name_key, Product.id, Product.unit_price_cents).where(Product.name_key.in_(chunk))
        for k, i, price in conn.execute(q.order_by(Product.id.desc())):
            found[k] = (i, price)
    return found


def product_ids(conn, ctx, names, prices=None):
    """Rows' product names → (product id Series, list price Series); unknown products are created
    with the first unit price seen for them (0 when none)."""
    import pandas as pd

    keys = keys_of(names)
    uniq = [k for k in keys.unique() if k]
    found = existing_products(conn, uniq)
    missing = [k for k in uniq if k not in found]
    if missing:
        first = pd.DataFrame({"key": keys, "name": names})
        first["price"] = prices if prices is not None else pd.Series(pd.NA, index=names.index, dtype="Int64")
        first = first[first.key.isin(set(missing))]
        priced = first.dropna(subset=["price"]).drop_duplicates("key").set_index("key")["price"]
        first = first.drop_duplicates("key")
        rows = [
            {
                "name": n,
                "name_key": k,
                "unit_price_cents": int(priced.get(k, 0) or 0),
                "currency": "USD",
                "created_at": ctx.now,
            }
            for k, n in zip(first.key, first.name)
        ]
        made = [(row["name_key"], row["unit_price_cents"]) for row in rows]
        ids = ctx.stage.insert(Product.__table__, rows)
        found.update({key: (i, price) for (key, price), i in zip(made, ids)})
        ctx.also_created["products"] = ctx.also_created.get("products", 0) + len(rows)
    ids = keys.map({k: v[0] for k, v in found.items()}).astype("Int64")
    list_prices = keys.map({k: v[1] for k, v in found.items()}).astype("Int64")
    return ids, list_prices


def deals_by_external_id(conn, ext_ids) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(e for e in ext_ids if e):
        q = select(Deal.external_id, Deal.id).where(Deal.external_id.in_(chunk))
        found.update({e: i for e, i in conn.execute(q)})
    return found


def duplicates_in_file(ctx, values, label: str):
    """Reject the 2nd and later rows that repeat an identifier (blank ones are fine)."""
    mask = (values != "") & values.duplicated(keep="first") & ctx.ok
    if mask.any():
        first_row = {v: i + 2 for i, v in values[(values != "")].drop_duplicates().items()}
        ctx.reject(
            mask, values[mask].map(lambda v: f"{label} {v!r} repeats row {first_row[v]}; each record may appear once")
        )
