"""Customer list pages and the customer detail view (read side, no textual).

The list never loads every row: ``count_customers`` counts what a filter
matches and ``fetch_page`` reads one page in the chosen order — by keyset
(after the last row of the previous page, on ``(sort key, id)``) when the
caller has it, else by OFFSET for a jump. The open-deal value of each row
comes from one aggregate joined to the page's ids, never a query per row.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, literal, or_, select, tuple_

from crm_tui import engines
from crm_tui.queries.customer_types import (  # noqa: F401 (re-exported)
    SORT_KEYS,
    CustomerFilter,
    CustomerRow,
    Keyset,
    Sort,
)
from crm_tui.models import Contact, Customer, Deal, Note, Order, OrderLine, Stage, Task
from crm_tui.queries.search import like_pattern
from crm_tui.textnorm import name_key

#: sortable columns → the customer column they order by (name sorts by its matching key)
SORT_COLUMNS = {
    "name": Customer.name_key,
    "status": Customer.status,
    "owner": Customer.owner,
    "email": Customer.email,
    "phone": Customer.phone,
    "industry": Customer.industry,
    "tags": Customer.tags,
    "updated": Customer.updated_at,
}
assert tuple(SORT_COLUMNS) == SORT_KEYS


#: a text-index id list with at most this many matches drives the query (fetch those rows,
#: sort them); a longer one is only probed while the sort column's index is walked, which
#: stops after a page. Measured at 100k customers: 42 matches 1 ms vs 19 ms, 2,000 matches
#: 5 ms vs 1.6 ms, 41,000 matches 43 ms vs 12 ms — they cross near 400.
TEXT_INDEX_DRIVES_UP_TO = 500


def _text_condition(text: str, conn):
    """What the search box matches (the text-index case is handled by ``_conditions``).

    Three or more characters: anywhere in name, email, phone or industry (any case), or
    in the name's matching key ("acmecorp" finds "Acme Corp") — from the trigram index
    where the engine has one. One or two characters: names that START with them (the
    list jumps like a phone book); a substring that short matches most of a big book
    and no index can find it without reading every row.
    """
    dialect = conn.dialect
    key = name_key(text)
    if len(text) < engines.SEARCH_MIN_CHARS:
        return engines.starts_with(Customer.name_key, key, dialect)
    pattern = like_pattern(text)
    matches = [engines.contains(col, pattern, dialect)
               for col in (Customer.name, Customer.email, Customer.phone, Customer.industry)]
    if key:
        matches.append(Customer.name_key.like(like_pattern(key), escape="\\"))
    return or_(*matches)


def _conditions(filt: CustomerFilter, conn) -> list:
    conds = []
    id_lists = []  # (ids from the text index, how many it matches)
    text = filt.text.strip()
    tag = (filt.tag or "").strip()
    search_index = engines.has_customer_search(conn)
    if text:
        if search_index and len(text) >= engines.SEARCH_MIN_CHARS:
            key = name_key(text)
            id_lists.append((engines.customer_search_ids(text, key), engines.customer_search_matches(conn, text, key)))
        else:
            conds.append(_text_condition(text, conn))
    if filt.status:
        conds.append(Customer.status == filt.status)
    if filt.owner is not None:
        conds.append(Customer.owner == filt.owner)
    if tag:
        # tags are stored "a, b, c": compare whole tags between commas, any case
        if search_index and len(tag) >= engines.SEARCH_MIN_CHARS:  # candidates from the index
            id_lists.append((engines.customer_tag_ids(tag), engines.customer_tag_matches(conn, tag)))
        padded = literal(",") + func.replace(func.replace(Customer.tags, ", ", ","), " ,", ",") + literal(",")
        conds.append(engines.contains(padded, like_pattern("," + tag + ","), conn.dialect))
    if filt.segment_ids is not None:
        # integers rendered into the SQL: no bound-parameter limit for big segments
        ids = bindparam("segment_ids", sorted(filt.segment_ids), expanding=True, literal_execute=True)
        conds.append(Customer.id.in_(ids) if filt.segment_ids else literal(False))
    # A short id list drives (SQLite, without table statistics, would otherwise walk every live
    # customer testing each against it); a long one is only probed (the sort index drives).
    drives = any(n <= TEXT_INDEX_DRIVES_UP_TO for _ids, n in id_lists)
    live = engines.not_a_plan_driver(Customer.deleted_at).is_(None) if drives else Customer.deleted_at.is_(None)
    for ids, n in id_lists:
        driver = n <= TEXT_INDEX_DRIVES_UP_TO
        conds.append(Customer.id.in_(ids) if driver else engines.not_a_plan_driver(Customer.id).in_(ids))
    return [live, *conds]


def count_customers(db, filt: CustomerFilter = CustomerFilter()) -> int:
    with db.read() as session:
        conn = session.connection()
        text = filt.text.strip()
        only_text = not (filt.status or filt.owner is not None or filt.tag or filt.segment_ids is not None)
        if only_text and len(text) >= engines.SEARCH_MIN_CHARS and engines.has_customer_search(conn):
            return engines.customer_search_count(conn, text, name_key(text))
        q = select(func.count()).select_from(Customer).where(*_conditions(filt, conn))
        return int(conn.execute(q).scalar() or 0)


def _after(key_col, keyset: Keyset, descending: bool):
    """Rows after ``keyset`` in (sort key, id) order: a row-value comparison the index can seek."""
    here = tuple_(key_col, Customer.id)
    there = tuple_(literal(keyset.value, key_col.type), literal(keyset.id))
    return here < there if descending else here > there


def _open_value_by_customer(page):
    """Σ amount of live open deals per customer, only for the ids in ``page``."""
    return (
        select(Deal.customer_id.label("customer_id"), func.sum(Deal.amount_cents).label("open_value"))
        .join(Stage, Stage.id == Deal.stage_id)
        .where(Stage.outcome == "open", Deal.deleted_at.is_(None), Deal.customer_id.in_(select(page.c.id)))
        .group_by(Deal.customer_id)
        .subquery("open_value")
    )


def fetch_page(
    db,
    filt: CustomerFilter = CustomerFilter(),
    sort: Sort = Sort(),
    at: int | Keyset = 0,
    limit: int = 200,
) -> list[CustomerRow]:
    """Up to ``limit`` customers in ``sort`` order, starting at offset ``at``
    or just after the row a ``Keyset`` names."""
    key_col = SORT_COLUMNS[sort.column]
    with db.read() as session:
        conn = session.connection()
        rows = conn.execute(_page_query(_conditions(filt, conn), key_col, sort, at, limit)).all()
    out = []
    for r in rows:
        updated = r.updated_at
        if isinstance(updated, dt.datetime) and updated.tzinfo is None:
            updated = updated.replace(tzinfo=dt.timezone.utc)
        sort_value = updated if sort.column == "updated" else r.sort_value
        out.append(
            CustomerRow(
                r.id, r.name, r.status, r.owner, r.email, r.phone, r.industry, r.tags,
                int(r[-1] or 0), updated, sort_value,
            )
        )
    return out


def _page_query(conds: list, key_col, sort: Sort, at, limit: int):
    if isinstance(at, Keyset):
        conds.append(_after(key_col, at, sort.descending))
        offset = 0
    else:
        offset = max(0, int(at))
    order = (key_col.desc(), Customer.id.desc()) if sort.descending else (key_col.asc(), Customer.id.asc())
    page = (
        select(
            Customer.id,
            Customer.name,
            Customer.status,
            Customer.owner,
            Customer.email,
            Customer.phone,
            Customer.industry,
            Customer.tags,
            Customer.updated_at,
            key_col.label("sort_value"),
        )
        .where(*conds)
        .order_by(*order)
        .limit(max(0, int(limit)))
        .offset(offset)
        .cte("page")  # used twice below; a CTE is computed once
    )
    ov = _open_value_by_customer(page)
    sv = page.c.sort_value
    outer_order = (sv.desc(), page.c.id.desc()) if sort.descending else (sv.asc(), page.c.id.asc())
    q = (
        select(page, func.coalesce(ov.c.open_value, 0))
        .select_from(page)
        .outerjoin(ov, ov.c.customer_id == page.c.id)
        .order_by(*outer_order)
    )
    return q


def customer_position(db, filt: CustomerFilter, sort: Sort, customer_id: int) -> int | None:
    """Where ``customer_id`` sits in the filtered, sorted list (0-based), or None if it is not in it."""
    key_col = SORT_COLUMNS[sort.column]
    with db.read() as session:
        conn = session.connection()
        conds = _conditions(filt, conn)
        value = conn.execute(select(key_col).where(Customer.id == customer_id, *conds)).first()
        if value is None:
            return None
        before = _after(key_col, Keyset(value[0], customer_id), not sort.descending)
        q = select(func.count()).select_from(Customer).where(*conds, before)
        return int(conn.execute(q).scalar() or 0)


@dataclass(frozen=True)
class FilterChoices:
    owners: list[str]
    tags: list[str]


def filter_choices(db) -> FilterChoices:
    """Owners and tags in use (distinct values; tags split from their comma lists)."""
    live = Customer.deleted_at.is_(None)
    with db.read() as session:
        conn = session.connection()
        owners = [o for (o,) in conn.execute(select(Customer.owner).where(live).distinct().order_by(Customer.owner))]
        tag_lists = conn.execute(
            select(Customer.tags, func.count()).where(live, Customer.tags != "").group_by(Customer.tags)
        ).all()
    # one entry per tag whatever its case, spelled as most customers spell it (ties: the
    # first in code-point order), so every engine shows the same choice
    spellings: dict[str, Counter] = {}
    for value, uses in tag_lists:
        for tag in value.split(","):
            tag = tag.strip()
            if tag:
                spellings.setdefault(tag.casefold(), Counter())[tag] += uses
    tags = [min(c, key=lambda t: (-c[t], t)) for c in spellings.values()]
    return FilterChoices([o for o in owners if o], sorted(tags, key=str.casefold))


# --- the detail view -------------------------------------------------------------------


@dataclass(frozen=True)
class ContactLine:
    id: int
    name: str
    title: str
    email: str
    phone: str


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


@dataclass(frozen=True)
class NoteLine:
    id: int
    body: str
    author: str
    created_at: dt.datetime


@dataclass(frozen=True)
class CustomerDetail:
    customer: dict  # every Customer field (as stored), including ``version``
    contacts: list[ContactLine]
    deals: list[DealLine]
    open_tasks: list[TaskLine]
    done_tasks: list[TaskLine]
    orders: list[OrderLineSummary]
    notes: list[NoteLine]  # newest first


def customer_detail(db, customer_id: int, *, task_limit: int = 50, note_limit: int = 200) -> CustomerDetail | None:
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
                select(Contact.id, Contact.name, Contact.title, Contact.email, Contact.phone)
                .where(Contact.customer_id == customer_id, Contact.deleted_at.is_(None))
                .order_by(Contact.name, Contact.id)
            )
        ]
        deals = [
            DealLine(*r)
            for r in conn.execute(
                select(Deal.id, Deal.title, Stage.name, Stage.outcome, Deal.amount_cents, Deal.currency)
                .join(Stage, Stage.id == Deal.stage_id)
                .where(Deal.customer_id == customer_id, Deal.deleted_at.is_(None))
                .order_by((Stage.outcome != "open"), Deal.created_at.desc(), Deal.id.desc())
            )
        ]
        task_cols = (Task.id, Task.kind, Task.subject, Task.due_at, Task.done_at, Task.owner)
        live_task = and_(Task.customer_id == customer_id, Task.deleted_at.is_(None))
        open_tasks = [
            TaskLine(*r)
            for r in conn.execute(
                select(*task_cols)
                .where(live_task, Task.done_at.is_(None))
                .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
                .limit(task_limit)
            )
        ]
        done_tasks = [
            TaskLine(*r)
            for r in conn.execute(
                select(*task_cols)
                .where(live_task, Task.done_at.is_not(None))
                .order_by(Task.done_at.desc(), Task.id.desc())
                .limit(task_limit)
            )
        ]
        value = func.coalesce(func.sum(OrderLine.quantity * OrderLine.unit_price_cents), 0)
        orders = [
            OrderLineSummary(r[0], r[1], r[2], int(r[3] or 0), r[4])
            for r in conn.execute(
                select(Order.id, Order.number, Order.status, value, Order.created_at)
                .outerjoin(OrderLine, OrderLine.order_id == Order.id)
                .where(Order.customer_id == customer_id)
                .group_by(Order.id, Order.number, Order.status, Order.created_at)
                .order_by(Order.created_at.desc(), Order.id.desc())
            )
        ]
        notes = [
            NoteLine(*r)
            for r in conn.execute(
                select(Note.id, Note.body, Note.author, Note.created_at)
                .where(Note.customer_id == customer_id, Note.deleted_at.is_(None))
                .order_by(Note.created_at.desc(), Note.id.desc())
                .limit(note_limit)
            )
        ]
    return CustomerDetail(customer, contacts, deals, open_tasks, done_tasks, orders, notes)
