"""Finding or creating the records a row names: customers, products, deals.

Every lookup works on the distinct values of a column (a few hundred names
for 100,000 rows), then maps the answer back onto the rows with pandas. Records
to create are staged (``ctx.stage``, see ``crm_tui.io.staging``), not written.
"""

from __future__ import annotations

from sqlalchemy import func, select

from crm_tui.models import Customer, Deal, Product
from crm_tui.money import load_rates_conn
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


def customer_ids(conn, ctx, names, *, status_for_new=None, owners=None, refs=None, person=None):
    """Rows' customers → customer ids (Int64, NA for blank); unknown ones are created.

    ``refs``: the customer's record id in the source CRM (or our own "crm-c12"), which wins over
    the name: a ref found links there; a ref not found with a name creates (or finds by name) the
    customer, keeping the ref as its external id; a ref not found without a name rejects the row.
    ``person``: rows whose new customer is a person (people without a company)."""
    import pandas as pd

    keys = keys_of(names)
    linked = pd.Series(pd.NA, index=names.index, dtype="Int64")
    if refs is not None:
        refs = refs.where(ctx.ok, "")
        found_refs = customers_by_ref(conn, refs.unique())
        linked = refs.map(found_refs).astype("Int64")
        lost = (refs != "") & linked.isna() & (keys == "") & ctx.ok
        ctx.reject(
            lost,
            refs[lost].map(
                lambda r: (
                    f"no customer has the id {r!r}; import the accounts (companies) file first, "
                    "or give the customer's name"
                )
            ),
        )
    else:
        refs = pd.Series("", index=names.index, dtype=object)
    todo = linked.isna() & (keys != "")
    # a row with a ref not found creates a customer of its own ref (two accounts may share a name)
    create_key = keys.where(refs == "", "ref\x1f" + refs)
    uniq = [k for k in keys[todo & (refs == "")].unique() if k]
    found = existing_customers(conn, uniq + [k for k in keys[todo & (refs != "")].unique() if k])
    found_by_create: dict[str, int] = {}
    for ck, k, r in zip(create_key[todo].tolist(), keys[todo].tolist(), refs[todo].tolist()):
        if k in found and (not r or ck not in found_by_create):
            found_by_create[ck] = found[k]
    missing = [k for k in create_key[todo].unique() if k not in found_by_create]
    if missing:
        first = pd.DataFrame({"key": create_key, "name_key": keys, "name": names, "ref": refs})
        if status_for_new is not None:
            first["status"] = status_for_new
        if owners is not None:
            first["owner"] = owners
        if person is not None:
            first["person"] = person
        first = first[todo & create_key.isin(set(missing))].drop_duplicates("key")
        rows = []
        for rec in first.to_dict("records"):
            rows.append(
                {
                    "name": rec["name"],
                    "name_key": rec["name_key"],
                    "kind": "person" if rec.get("person") else "company",
                    "status": rec.get("status") or "lead",
                    "owner": rec.get("owner") or "",
                    "email": "",
                    "phone": "",
                    "website": "",
                    "industry": "",
                    "tags": "",
                    "source": "import",
                    "external_id": rec["ref"] or None,
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                    "version": 1,
                }
            )
        keys_made = list(first.key)
        found_by_create.update(zip(keys_made, ctx.stage.insert(Customer.__table__, rows)))
        ctx.also_created["customers"] = ctx.also_created.get("customers", 0) + len(rows)
    by_name = create_key.map(found_by_create).astype("Int64")
    return linked.where(linked.notna(), by_name).where(keys.ne("") | linked.notna(), pd.NA).astype("Int64")


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
        home = load_rates_conn(conn).home  # a product a file names is priced in the home currency
        rows = [
            {
                "name": n,
                "name_key": k,
                "unit_price_cents": int(priced.get(k, 0) or 0),
                "currency": home,
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


def deals_by_external_id(conn, ext_ids, *, own: bool = True) -> dict[str, int]:
    """Deals by external id (deleted ones too: the id stays taken), else by our own "crm-12"."""
    return by_external_id(conn, Deal, ext_ids, live=False, own=own)


def duplicates_in_file(ctx, values, label: str):
    """Reject the 2nd and later rows that repeat an identifier (blank ones are fine)."""
    mask = (values != "") & values.duplicated(keep="first") & ctx.ok
    if mask.any():
        first_row = {v: i + 2 for i, v in values[(values != "")].drop_duplicates().items()}
        ctx.reject(
            mask, values[mask].map(lambda v: f"{label} {v!r} repeats row {first_row[v]}; each record may appear once")
        )


# -- record ids: the source CRM's, and our own export's ---------------------------------------

#: our export names a record that has no external id "<prefix><id>" ("crm-c12" is customer 12)
OWN_REF = {"customer": "crm-c", "contact": "crm-p", "task": "crm-t", "product": "crm-r", "deal": "crm-"}


def own_ref(table: str, value: str) -> int | None:
    """The record id in one of our own references ("crm-c12" → 12 for customers), else None."""
    prefix = OWN_REF[table]
    if not value.startswith(prefix):
        return None
    rest = value[len(prefix) :]
    number, dash, again = rest.partition("-")  # "crm-c5-5": the export's form when "crm-c5" was taken
    if dash and again != number:
        return None
    return int(number) if number.isdigit() and len(number) < 19 else None


def by_external_id(conn, model, values, *, live: bool = True, own: bool = True) -> dict[str, int]:
    """External ids → record ids: the record holding that external id, else (``own``) the record
    that one of our own exports named "crm-…" (``own_refs``)."""
    table = model.__table__
    wanted = [v for v in values if v]
    found: dict[str, int] = {}
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    alive = " AND deleted_at IS NULL" if live and "deleted_at" in table.c else ""
    for chunk in _chunks(wanted):
        # straight to the driver: a file of 100,000 ids is 200 of these
        sql = (
            f"SELECT external_id, id FROM {quote(table.name)} WHERE external_id IN "
            f"({', '.join([mark] * len(chunk))}){alive} ORDER BY id DESC"
        )
        found.update({e: int(i) for e, i in conn.exec_driver_sql(sql, tuple(chunk))})
    if own:
        found.update(own_refs(conn, model, [v for v in wanted if v not in found], live=live))
    return found


def own_refs(conn, model, values, *, live: bool = True) -> dict[str, int]:
    """Our own export's references ("crm-c12") → the record with that id and no external id of
    its own (an export writes "crm-…" only for those)."""
    table = model.__table__
    prefix = OWN_REF[table.name]
    own = {v: own_ref(table.name, v) for v in values if v and v.startswith(prefix)}
    own = {v: i for v, i in own.items() if i is not None}
    if not own:
        return {}
    alive: set[int] = set()
    for chunk in _chunks(set(own.values())):
        q = select(table.c.id).where(table.c.id.in_(chunk), table.c.external_id.is_(None))
        if live and "deleted_at" in table.c:
            q = q.where(table.c.deleted_at.is_(None))
        alive.update(int(i) for i in conn.execute(q).scalars())
    return {v: i for v, i in own.items() if i in alive}


def guarded(conn, model, refs: dict[str, int], ref_col, checks) -> dict[int, int]:
    """Rows whose own reference (``refs``: value → id) names a record that really is theirs:
    row index → record id, when one of ``checks`` agrees — ``(values, column, keyer)``: the row's
    value equals the record's ``column`` (through ``keyer``). An export of another database names
    other records by the same ids; those rows are matched like rows with a new id. Several checks
    (the name, the created time to the microsecond) let a rep rename a record in the file."""
    import pandas as pd

    table = model.__table__
    ids = set(refs.values())
    stored: dict[int, tuple] = {}
    cols = [table.c[col] for _values, col, _keyer in checks]
    for chunk in _chunks(ids):
        for row in conn.execute(select(table.c.id, *cols).where(table.c.id.in_(chunk))):
            stored[int(row[0])] = tuple(
                (keyer(v) if keyer and v is not None else v) for v, (_x, _c, keyer) in zip(row[1:], checks)
            )
    out: dict[int, int] = {}
    for i, ref in ref_col.items():
        rid = refs.get(ref)
        if rid is None or rid not in stored:
            continue
        for (values, _col, _keyer), have in zip(checks, stored[rid]):
            want = values[i]
            if have is None or want is None or (not isinstance(want, str) and pd.isna(want)) or want == "":
                continue
            if want == have:
                out[i] = rid
                break
    return out


def customers_by_ref(conn, refs) -> dict[str, int]:
    return by_external_id(conn, Customer, refs)


def with_fingerprints(ctx, ext):
    """``ext`` with each blank cell replaced by the row's fingerprint (``fingerprints``); counts the
    rows so identified for the summary once they match records imported before."""
    blank = ext == ""
    if not blank.any():
        return ext
    ctx.fingerprinted = blank
    return ext.where(~blank, fingerprints(ctx.df, ctx.kind))


def note_fingerprint_matches(ctx, matched) -> None:
    """Say in the summary how many rows without an id were recognised from an earlier import."""
    mask = ctx.fingerprinted
    if mask is None:
        return
    n = int((mask & matched & ctx.ok).sum())
    if n:
        ctx.notes.append(
            f"{n:,} rows without an id are the same as rows imported before (from their content): "
            "updated, not imported twice"
        )


def fingerprints(df, kind: str):
    """A record id for each row of a file with none: a hash of the row's cells (column order does
    not matter), with its occurrence number, so that two identical rows stay two records and the
    same file imported again updates them instead of doubling every figure."""
    import hashlib

    import pandas as pd

    cols = sorted(df.columns, key=str)
    if not cols:
        return pd.Series("", index=df.index, dtype=object)
    text = pd.Series(kind, index=df.index, dtype=object)
    for c in cols:
        text = text + "\x1f" + str(c) + "\x1e" + df[c].astype(str).str.strip()
    digest = text.map(lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest()[:20])
    occurrence = digest.groupby(digest).cumcount()
    suffix = occurrence.map(lambda n: f"-{n + 1}" if n else "")
    return "row-" + digest + suffix
