"""Importing customers, contacts, products and tasks (orders: ``kinds_orders``), and the lookups
the importers of orders share with them (``_lookup``, ``_versions``, ``_deal_ids``, …).

Matching (re-import updates instead of duplicating):
- customers: external_id (our own export's "crm-c12": customer 12 when its name agrees), else
  normalised name (``name_key``), else email;
- contacts: external_id (or "crm-p12" with the same name), else the same customer and email, else
  the same customer and name;
- products: external_id (or "crm-r12" with the same name), else ``name_key`` (so "GTXPro" is "GTX Pro");
  a code (the rep's SKU) names one product (any case), as in the app; ``retired_at`` retires it (a
  blank cell in that column offers it again);
- tasks: external_id (or "crm-t12" with the same subject); a row without one gets one from its
  content (``resolve.fingerprints``), so the same file imported twice does not double the tasks.
On update a blank cell keeps the stored value. A row repeating a record already
in the same file (same external id / name) is rejected with the first row's number.

A row's customer is found by its record id in the source CRM (``customer_external_id``:
Salesforce AccountId, HubSpot Associated Company ID, …) before its name. People without a
company (a contacts export with no company column, or a contact row with a blank one) become
person customers named First Name + Last Name; as customers they are persons too.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from crm_tui.io import resolve as R
from crm_tui.io.notes import add_notes
from crm_tui.models import TASK_OUTCOMES, Contact, Customer, Deal, Product, Task
from crm_tui.money import load_rates_conn

CUSTOMER_STATUS = {
    "lead": "lead",
    "new": "lead",
    "subscriber": "lead",
    "marketingqualifiedlead": "lead",
    "mql": "lead",
    "marketing qualified lead": "lead",
    "other": "lead",
    "prospect": "prospect",
    "opportunity": "prospect",
    "salesqualifiedlead": "prospect",
    "sql": "prospect",
    "sales qualified lead": "prospect",
    "customer": "customer",
    "evangelist": "customer",
    "active": "customer",
    "client": "customer",
    "churned": "churned",
    "former customer": "churned",
    "inactive": "churned",
    "lost": "churned",
}


def account_type_status(s):
    """A CRM's account/company type → a customer status where it says one ("Customer - Direct",
    "Customer", "Prospect", "Former Customer"), else '' (Partner, Competitor, Vendor…: no status)."""
    key = s.str.strip().str.casefold()
    out = pd.Series("", index=s.index, dtype=object)
    out = out.where(~key.str.startswith("customer"), "customer")
    out = out.where(~key.str.startswith("prospect"), "prospect")
    out = out.where(~key.str.contains(r"former|churn|ex-customer", regex=True), "churned")
    return out


CUSTOMER_KIND = {
    "company": "company",
    "organization": "company",
    "organisation": "company",
    "business": "company",
    "account": "company",
    "person": "person",
    "individual": "person",
    "personal": "person",
}
TASK_KIND = {
    "call": "call",
    "phone call": "call",
    "phone": "call",
    "email": "email",
    "e mail": "email",
    "mail": "email",
    "meeting": "meeting",
    "lunch": "meeting",
    "event": "meeting",
    "todo": "todo",
    "to do": "todo",
    "task": "todo",
    "deadline": "todo",
    "follow up": "todo",
}
TASK_DONE = {
    "completed": True,
    "complete": True,
    "done": True,
    "closed": True,
    "yes": True,
    "true": True,
    "1": True,
    "finished": True,
    "not started": False,
    "in progress": False,
    "waiting": False,
    "waiting on someone else": False,
    "deferred": False,
    "open": False,
    "to do": False,
    "no": False,
    "false": False,
    "0": False,
    "pending": False,
    "not done": False,
}
PRIORITY = {
    "none": 0,
    "low": 0,
    "lowest": 0,
    "0": 0,
    "normal": 1,
    "medium": 1,
    "1": 1,
    "high": 2,
    "2": 2,
    "highest": 3,
    "urgent": 3,
    "3": 3,
}


def _exec_updates(ctx, table, rows) -> None:
    ctx.stage.update(table, rows)


def _changes(frame, i, cols, texts):
    """Columns of row ``i`` to overwrite: mapped and not blank."""
    rec = {}
    for c in cols:
        v = frame.at[i, c]
        if c in texts and texts[c] is not None and texts[c][i] == "":
            continue
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            continue
        rec[c] = int(v) if hasattr(v, "dtype") and "int" in str(v.dtype) else v
    return rec


def _lookup(conn, col, ids_col, values, *, extra=None, lower=False):
    found = {}
    for chunk in R._chunks(v for v in values if v):
        target = func.lower(col) if lower else col
        q = select(target, ids_col).where(target.in_(chunk))
        if extra is not None:
            q = q.where(extra)
        for k, i in conn.execute(q.order_by(ids_col.desc())):
            found[k] = i
    return found


# -- customers ---------------------------------------------------------------------------


def import_customers(conn, ctx):
    ext = ctx.text("external_id")
    name = ctx.text("name")
    person_name = (ctx.text("first_name") + " " + ctx.text("last_name")).str.strip()
    is_person = (name == "") & (person_name != "")
    name = name.where(~is_person, person_name)
    ctx.reject((name == ""), "name is required; the row has no customer name")
    kind = ctx.choice("kind", CUSTOMER_KIND, "company", ("company", "person"))
    kind = kind.where(~(is_person & (ctx.text("kind") == "")), "person")
    email = ctx.email()
    status = ctx.choice("status", CUSTOMER_STATUS, "lead", ("lead", "prospect", "customer", "churned"))
    if ctx.has("account_type"):
        typed = account_type_status(ctx.text("account_type"))
        given = ctx.text("status") != "" if ctx.has("status") else pd.Series(False, index=status.index)
        status = status.where(given | (typed == ""), typed)
    created = ctx.dates("created_at")
    notes = ctx.extras(ctx.text("notes", max_len=20000, multiline=True))
    frame = pd.DataFrame(
        {
            "name": name,
            "name_key": R.keys_of(name),
            "kind": kind,
            "email": email,
            "phone": ctx.text("phone"),
            "website": ctx.text("website", max_len=500),
            "industry": ctx.text("industry"),
            "tags": ctx.text("tags", max_len=1000),
            "owner": ctx.text("owner"),
            "source": ctx.text("source"),
            "status": status,
            "external_id": ext.where(ext != "", None),
            "created_at": created.where(created.notna(), pd.Timestamp(ctx.now)),
            "updated_at": pd.Timestamp(ctx.now),
            "version": 1,
        }
    )
    R.duplicates_in_file(ctx, ext, "external_id")
    R.duplicates_in_file(ctx, frame.name_key.where(ext == "", ""), "customer name")
    ok = ctx.ok
    live = Customer.deleted_at.is_(None)
    by_ext = _lookup(conn, Customer.external_id, Customer.id, ext[ok].unique(), extra=live)
    by_key = R.existing_customers(conn, frame.name_key[ok].unique())
    by_mail = _lookup(conn, Customer.email, Customer.id, email[ok].str.lower().unique(), extra=live, lower=True)
    checks = [(frame.name_key, "name_key", None), (created, "created_at", None)]
    match = _own_matches(conn, ctx, Customer, ext, by_ext, checks)
    match = match.where(match.notna(), frame.name_key.map(by_key))
    match = match.where(match.notna(), email.str.lower().map(by_mail))
    match = match.where(ok)
    new = ok & match.isna()
    rows = R.rows_from(frame[new], conn.dialect)
    ids = _insert_ids(conn, ctx, Customer.__table__, rows)
    cust_ids = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    cust_ids[new] = ids
    upd = ok & match.notna()
    cols = [
        c
        for c in (
            "name",
            "kind",
            "email",
            "phone",
            "website",
            "industry",
            "tags",
            "owner",
            "source",
            "status",
            "external_id",
            "created_at",
        )
        if ctx.has(c)
    ]
    if "name" in cols or is_person.any():
        cols += ["name", "name_key"] if "name" not in cols else ["name_key"]
    if "status" not in cols and ctx.has("account_type"):
        cols.append("status")
    if "kind" not in cols and is_person.any():
        cols.append("kind")
    texts = {c: frame[c] for c in cols if frame[c].dtype == object}
    versions = _versions(conn, Customer, match[upd].astype("int64").tolist())
    urows = []
    for i in match[upd].index:
        cid = int(match[i])
        rec = _changes(frame, i, cols, texts)
        rec.update({"b_id": cid, "updated_at": ctx.now, "version": versions[cid] + 1})
        urows.append(rec)
        cust_ids[i] = cid
    _exec_updates(ctx, Customer.__table__, urows)
    add_notes(conn, ctx, cust_ids, None, notes)
    return int(new.sum()), len(urows)


def _own_matches(conn, ctx, model, ext, by_ext, checks):
    """Rows → the record their external id names (Int64, NA when none): a record holding that
    external id (``by_ext``), else the one our own export named "crm-…" when one of ``checks``
    agrees (``resolve.guarded``: another database's export names other records by the same ids)."""
    match = ext.map(by_ext)
    rest = ctx.ok & (ext != "") & match.isna()
    if rest.any():
        own = R.own_refs(conn, model, ext[rest].unique())
        if own:
            mine = R.guarded(conn, model, own, ext[rest], checks)
            if mine:
                match = match.copy()
                match[list(mine)] = list(mine.values())
    return match


def _insert_ids(conn, ctx, table, rows) -> list[int]:
    return ctx.stage.insert(table, rows, tick=ctx.tick)


def _versions(conn, model, ids) -> dict[int, int]:
    out = {}
    for chunk in R._chunks(ids):
        out.update({i: v for i, v in conn.execute(select(model.id, model.version).where(model.id.in_(chunk)))})
    return out


# -- contacts ----------------------------------------------------------------------------


def import_contacts(conn, ctx):
    ext = ctx.text("external_id")
    first, last = ctx.text("first_name"), ctx.text("last_name")
    joined = (first + " " + last).str.strip()
    name = ctx.text("name")
    email = ctx.email()
    name = name.where(name != "", joined)
    name = name.where(name != "", email)
    customer = ctx.text("customer")
    refs = ctx.text("customer_external_id") if ctx.has("customer_external_id") else None
    ctx.reject(name == "", "name is required; give a name, first/last name or email")
    # a person without a company is a customer of their own (a person customer)
    alone = (customer == "") & (refs == "" if refs is not None else True) & (name != "")
    customer = customer.where(~alone, name)
    R.duplicates_in_file(ctx, ext, "external_id")
    ok = ctx.ok
    cust = R.customer_ids(conn, ctx, customer.where(ok, ""), refs=refs, person=alone)
    frame = pd.DataFrame(
        {
            "customer_id": cust,
            "name": name,
            "title": ctx.text("title"),
            "email": email,
            "phone": ctx.text("phone"),
            "external_id": ext.where(ext != "", None),
            "created_at": pd.Timestamp(ctx.now),
            "updated_at": pd.Timestamp(ctx.now),
            "version": 1,
        }
    )
    ok = ctx.ok
    live = Contact.deleted_at.is_(None)
    by_ext = _lookup(conn, Contact.external_id, Contact.id, ext[ok].unique(), extra=live)
    cids = [int(c) for c in cust[ctx.ok].dropna().unique()]
    existing = []
    for chunk in R._chunks(cids):
        existing += conn.execute(
            select(Contact.id, Contact.customer_id, Contact.name, Contact.email)
            .where(live, Contact.customer_id.in_(chunk))
            .order_by(Contact.id)
        ).all()
    by_mail = {(r.customer_id, r.email.lower()): r.id for r in existing if r.email}
    by_name = {(r.customer_id, R.name_key(r.name)): r.id for r in existing}
    keys = R.keys_of(name)
    lower = email.str.lower()
    match = _own_matches(conn, ctx, Contact, ext, by_ext, [(keys, "name", R.name_key), (lower, "email", str.lower)])
    mail_key = pd.Series(list(zip(cust.fillna(0).astype("int64"), email.str.lower())), index=ctx.df.index)
    name_k = pd.Series(list(zip(cust.fillna(0).astype("int64"), keys)), index=ctx.df.index)
    match = match.where(match.notna(), mail_key.map(lambda k: by_mail.get(k) if k[1] else None))
    match = match.where(match.notna(), name_k.map(by_name))
    match = match.where(ok)
    # The same person twice in one file is one contact.
    dup = ok & match.isna() & name_k.duplicated(keep="first")
    ctx.reject(dup, "this contact repeats an earlier row (same customer and name)")
    new = ctx.ok & match.isna()
    _insert_ids(conn, ctx, Contact.__table__, R.rows_from(frame[new], conn.dialect))
    upd = ctx.ok & match.notna()
    cols = [c for c in ("name", "title", "email", "phone", "external_id") if ctx.has(c) or c == "name"]
    texts = {c: frame[c] for c in cols if frame[c].dtype == object}
    versions = _versions(conn, Contact, match[upd].astype("int64").tolist())
    urows = []
    for i in match[upd].index:
        rec = _changes(frame, i, cols, texts)
        rec.update({"b_id": int(match[i]), "updated_at": ctx.now, "version": versions[int(match[i])] + 1})
        urows.append(rec)
    _exec_updates(ctx, Contact.__table__, urows)
    return int(new.sum()), len(urows)


# -- products ----------------------------------------------------------------------------


def import_products(conn, ctx):
    ext = ctx.text("external_id")
    name = ctx.text("name")
    ctx.reject(name == "", "name is required; the row has no product name")
    price = ctx.money("unit_price")
    currency = ctx.text("currency").str.upper()
    bad = (currency != "") & ~currency.str.fullmatch(r"[A-Z]{3}")
    ctx.reject(bad, currency[bad].map(lambda c: f"currency must be a 3-letter code such as USD, got {c!r}"))
    keys = R.keys_of(name)
    R.duplicates_in_file(ctx, ext, "external_id")
    R.duplicates_in_file(ctx, keys.where(ext == "", ""), "product name")
    ok = ctx.ok
    by_ext = _lookup(conn, Product.external_id, Product.id, ext[ok].unique())
    by_key = {k: v[0] for k, v in R.existing_products(conn, keys[ok].unique()).items()}
    match = _own_matches(conn, ctx, Product, ext, by_ext, [(keys, "name_key", None)])
    match = match.where(match.notna(), keys.map(by_key)).where(ok)
    code = ctx.text("code", max_len=64)
    retired = ctx.dates("retired_at")
    _check_codes(conn, ctx, code, match, name)
    ok = ctx.ok
    match = match.where(ok)
    frame = pd.DataFrame(
        {
            "name": name,
            "name_key": keys,
            "unit_price_cents": price,
            "currency": currency.where(currency != "", load_rates_conn(conn).home),  # blank: the home one
            "code": code,
            "external_id": ext.where(ext != "", None),
            "created_at": pd.Timestamp(ctx.now),
            "archived_at": retired,
        }
    )
    new = ok & match.isna()
    ins = frame[new].copy()
    ins["unit_price_cents"] = ins.unit_price_cents.fillna(0)
    _insert_ids(conn, ctx, Product.__table__, R.rows_from(ins, conn.dialect))
    upd = ok & match.notna()
    cols = ["name", "name_key"] + [
        c
        for c, f in (
            ("unit_price_cents", "unit_price"),
            ("currency", "currency"),
            ("code", "code"),
            ("external_id", "external_id"),
            ("archived_at", "retired_at"),
        )
        if ctx.has(f)
    ]
    texts = {c: frame[c] for c in cols if frame[c].dtype == object}
    urows = []
    for i in match[upd].index:
        rec = _changes(frame, i, cols, texts)
        if "archived_at" in cols:
            at = frame.at[i, "archived_at"]
            rec["archived_at"] = None if pd.isna(at) else at.to_pydatetime()  # blank: offered again
        rec["b_id"] = int(match[i])
        urows.append(rec)
    _exec_updates(ctx, Product.__table__, urows)
    return int(new.sum()), len(urows)


def _check_codes(conn, ctx, code, match, name) -> None:
    """A code names one product, in any case (as ``services.create_product`` has it): a row
    repeating an earlier row's code, or giving the code of another product, is rejected."""
    folded = code.str.casefold()
    R.duplicates_in_file(ctx, folded, "code")
    owners = {c.casefold(): (i, n) for i, c, n in conn.execute(select(Product.id, Product.code, Product.name)) if c}
    for i in code.index[ctx.ok & (code != "")]:
        owner = owners.get(folded[i])
        mine = match[i]
        if owner is not None and (pd.isna(mine) or int(mine) != owner[0]):
            ctx.reject(code.index == i, f"the code {code[i]} is already '{owner[1]}'s; codes name one product")


# -- tasks -------------------------------------------------------------------------------


def _deal_ids(conn, ctx, deal):
    """A task/order's deal cell: an external id, else a deal title (case-insensitive)."""
    vals = [v for v in deal[ctx.ok].unique() if v]
    by_ext = R.deals_by_external_id(conn, vals)
    rest = [v for v in vals if v not in by_ext]
    by_title = {}
    for chunk in R._chunks([v.lower() for v in rest]):
        q = (
            select(func.lower(Deal.title), func.min(Deal.id))
            .where(Deal.deleted_at.is_(None), func.lower(Deal.title).in_(chunk))
            .group_by(func.lower(Deal.title))
        )
        by_title.update({t: i for t, i in conn.execute(q)})
    ids = deal.map(lambda v: by_ext.get(v) or by_title.get(v.lower()) if v else None)
    unknown = ctx.ok & (deal != "") & ids.isna()
    ctx.reject(unknown, deal[unknown].map(lambda v: f"no deal with external id or title {v!r}; import deals first"))
    return ids.astype("Int64")


def import_tasks(conn, ctx):
    ext = ctx.text("external_id")
    ext = R.with_fingerprints(ctx, ext)
    subject = ctx.text("subject", max_len=500)
    ctx.reject(subject == "", "subject is required; the row has no task subject")
    raw_kind = ctx.text("kind")
    kind_key = raw_kind.str.casefold().str.replace(r"[\s_\-]+", " ", regex=True)
    kind = kind_key.map(TASK_KIND).where(kind_key != "", "todo")
    other_kind = kind.isna()
    kind = kind.where(~other_kind, "todo")
    done_flag = ctx.choice("status", TASK_DONE, False, ("completed", "not started", "in progress", "done"))
    priority = ctx.choice("priority", PRIORITY, 1, ("low", "normal", "high", "urgent", "0-3"))
    due = ctx.dates("due_at")
    done_at = ctx.dates("done_at")
    created = ctx.dates("created_at")
    base = ctx.text("notes", max_len=20000, multiline=True)
    base = base.where(~other_kind, (base + "\n").str.lstrip("\n").where(base != "", "") + "type: " + raw_kind)
    # how a done activity went: one of ours is kept as it is; another CRM's wording goes to the notes
    raw_outcome = ctx.text("outcome")
    outcome = raw_outcome.str.casefold().str.strip()
    known = outcome.isin(TASK_OUTCOMES)
    other_outcome = (outcome != "") & ~known
    base = base.where(~other_outcome, (base + "\n").str.lstrip("\n").where(base != "", "") + "outcome: " + raw_outcome)
    notes = ctx.extras(base)
    R.duplicates_in_file(ctx, ext, "external_id")
    deal_ids = _deal_ids(conn, ctx, ctx.text("deal"))
    ok = ctx.ok
    refs = ctx.text("customer_external_id") if ctx.has("customer_external_id") else None
    cust = R.customer_ids(conn, ctx, ctx.text("customer").where(ok, ""), refs=refs)
    now = pd.Timestamp(ctx.now)
    is_done = done_flag.astype(bool) | done_at.notna()
    # done with no completion time: done when the import learnt it, not on its due date (which
    # would count every such task as done on time)
    ctx.warn(is_done & done_at.isna(), "tasks done with no completion time (counted as done at the import)")
    done_at = done_at.where(done_at.notna(), now).where(is_done, pd.NaT)
    frame = pd.DataFrame(
        {
            "kind": kind,
            "subject": subject,
            "due_at": due,
            "done_at": done_at,
            "outcome": outcome.where(known, None),
            "priority": priority,
            "customer_id": cust,
            "deal_id": deal_ids,
            "owner": ctx.text("owner"),
            "notes": notes,
            "external_id": ext.where(ext != "", None),
            "created_at": created.where(created.notna(), now),
            "updated_at": now,
            "version": 1,
        }
    )
    ok = ctx.ok
    by_ext = _lookup(conn, Task.external_id, Task.id, ext[ok].unique(), extra=Task.deleted_at.is_(None))
    checks = [(subject, "subject", None), (created, "created_at", None)]
    match = _own_matches(conn, ctx, Task, ext, by_ext, checks).where(ok)
    R.note_fingerprint_matches(ctx, match.notna())
    new = ok & match.isna()
    _insert_ids(conn, ctx, Task.__table__, R.rows_from(frame[new], conn.dialect))
    upd = ok & match.notna()
    cols = [
        c
        for c, f in (
            ("kind", "kind"),
            ("subject", "subject"),
            ("due_at", "due_at"),
            ("outcome", "outcome"),
            ("priority", "priority"),
            ("customer_id", "customer"),
            ("deal_id", "deal"),
            ("owner", "owner"),
            ("notes", "notes"),
            ("created_at", "created_at"),
        )
        if ctx.has(f)
    ]
    if ctx.has("status") or ctx.has("done_at"):
        cols.append("done_at")
    texts = {c: frame[c] for c in cols if frame[c].dtype == object}
    versions = _versions(conn, Task, match[upd].astype("int64").tolist())
    urows = []
    for i in match[upd].index:
        rec = _changes(frame, i, cols, texts)
        if "done_at" in cols and pd.isna(frame.at[i, "done_at"]):
            rec["done_at"] = None  # reopened
        rec.update({"b_id": int(match[i]), "updated_at": ctx.now, "version": versions[int(match[i])] + 1})
        urows.append(rec)
    _exec_updates(ctx, Task.__table__, urows)
    return int(new.sum()), len(urows)
