"""Customer list pages (read side, no textual; the detail view is ``customer_detail``).

The list never loads every row: ``count_customers`` counts what a filter
matches and ``fetch_page`` reads one page in the chosen order — by keyset
(after the last row of the previous page, on ``(sort key, id)``) when the
caller has it, else by OFFSET for a jump; ``first_page`` reads a new search's
first rows and its count together. The open-deal value of each row comes from
one aggregate joined to the page's ids, never a query per row. Statements are
built once per shape of filter and run with bound values.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from sqlalchemy import bindparam, false, func, literal, or_, select, tuple_

from crm_tui import engines
from crm_tui.columns import col, pk
from crm_tui.models import Customer, Deal, Stage
from crm_tui.money import Rates, load_rates_conn
from crm_tui.queries.customer_types import (  # noqa: F401 (re-exported)
    SORT_KEYS,
    CustomerFilter,
    CustomerRow,
    Keyset,
    Sort,
)
from crm_tui.queries.search import like_pattern
from crm_tui.textnorm import name_key

if TYPE_CHECKING:
    from sqlalchemy import (
        CTE,
        BindParameter,
        ColumnElement,
        Connection,
        Select,
        SQLColumnExpression,
        Subquery,
        TextClause,
    )
    from sqlalchemy.orm import Mapped

    from crm_tui.db import Database

_T = TypeVar("_T")


class _Named(Protocol):
    """A dialect, or enough of one for ``engines`` to choose its SQL by name (``_Dialect``)."""

    @property
    def name(self) -> str: ...


class _PerEngineSQL(Protocol):
    """The untyped ``crm_tui.engines`` expressions the list builds on, typed (that module is not
    typed yet; mypy holds it to these signatures once it is)."""

    def starts_with(self, column: SQLColumnExpression[str], dialect: _Named) -> ColumnElement[bool]: ...

    def contains(
        self, col: SQLColumnExpression[str], pattern: BindParameter[str], dialect: _Named
    ) -> ColumnElement[bool]: ...

    def not_a_plan_driver(self, column: SQLColumnExpression[_T]) -> ColumnElement[_T]: ...

    def customer_search_ids(self, column: str) -> TextClause: ...

    def listed_ids(self, name: str) -> TextClause: ...


per_engine: _PerEngineSQL = engines

#: sortable columns → the customer column they order by (name sorts by its matching key)
SORT_COLUMNS: dict[str, Mapped[str] | Mapped[dt.datetime]] = {
    "name": col(Customer.name_key),
    "status": col(Customer.status),
    "owner": col(Customer.owner),
    "email": col(Customer.email),
    "phone": col(Customer.phone),
    "industry": col(Customer.industry),
    "tags": col(Customer.tags),
    "updated": col(Customer.updated_at),
}
assert tuple(SORT_COLUMNS) == SORT_KEYS


def _most_driving(rows: int, book: int) -> int:
    """Up to how many text-index matches should drive the list query (fetch those customers,
    sort them: cost ∝ matches) rather than be probed while the sort column's index is walked
    until ``rows`` matches turn up (cost ∝ rows × book / matches, for a book of ``book``
    customers). They cross where matches² = rows × book: ≈2,500 matches for a screenful of a
    100k book, ≈800 for a 10k one (the measurements: benchmarks/RESULTS.md)."""
    return math.isqrt(max(0, rows) * max(book, 1))


#: a page's LIMIT and OFFSET: bound, never part of the statement text
_LIMIT: BindParameter[int] = bindparam("page_limit")
_OFFSET: BindParameter[int] = bindparam("page_offset")


@dataclass(frozen=True)
class _Shape:
    """What a filter's WHERE clause looks like, without its values. Statements are built once
    per shape (building one costs more Python than running it) and then only run with new
    values."""

    dialect: str
    text: str = ""  # "", "prefix" (1–2 letters), "like" (no text index), "ids" (drives), "probe"
    key: bool = False  # "like": the name's matching key is searched too
    status: bool = False
    owner: bool = False
    tag: str = ""  # "", "like" (no text index), "drives", "probe"
    segment: str = ""  # "", "ids", "none"


@dataclass
class _Plan:
    shape: _Shape
    values: dict[str, Any]  # bound values: text, a JSON id list, a list of ids
    #: when a 3+ character search is the only filter, it is counted from the text index less
    #: the deleted customers among the matches: from its match list when that drives the query
    #: (``search_ids``), else from the index's own count of ``search_query``
    search_ids: list[int] | None = None
    search_query: str | None = None


def _plan(filt: CustomerFilter, conn: Connection, rows: int = 200) -> _Plan:
    """The shape of ``filt``'s conditions and the values to run them with, for reading about
    ``rows`` rows. A search of 3+ characters reads the text index here: up to the plan's
    crossover, its match list (then the query's id list and its count); past it, the page
    probes the index while walking the sort index (no list of 40,000 ids through Python)."""
    dialect = conn.dialect
    values: dict[str, Any] = {}
    text_kind, key_too, tag_kind, segment = "", False, "", ""
    search_ids = search_query = None
    text = filt.text.strip()
    tag = (filt.tag or "").strip()
    search_index = engines.has_customer_search(conn)
    if text:
        key = name_key(text)
        if len(text) < engines.SEARCH_MIN_CHARS:
            # One or two characters: names that START with them (the list jumps like a phone
            # book); a substring that short matches most of a big book and no index finds it.
            text_kind = "prefix"
            values.update(engines.starts_with_values(key, dialect))
        elif search_index:
            query = engines.customer_search_query(text, key)
            most = _most_driving(rows, conn.execute(_BOOK_SIZE).scalar() or 0)
            found = engines.customer_search_id_list(conn, query, limit=most + 1)
            if len(found) <= most:  # all of them, and few: they drive
                text_kind, search_ids, values["search_ids"] = "ids", found, json.dumps(found)
            else:
                text_kind, search_query, values["fts_query"] = "probe", query, query
        else:  # anywhere in name, email, phone or industry (any case), or in the matching key
            text_kind, values["pattern"] = "like", like_pattern(text)
            if key:
                key_too, values["key_pattern"] = True, like_pattern(key)
    if filt.status:
        values["status"] = filt.status
    if filt.owner is not None:
        values["owner"] = filt.owner
    if tag:
        # tags are stored "a, b, c": compare whole tags between commas, any case
        values["tag_pattern"] = like_pattern("," + tag + ",")
        tag_kind = "like"
        if search_index and len(tag) >= engines.SEARCH_MIN_CHARS:  # candidates from the index
            values["fts_tag"] = engines.customer_tag_query(tag)
            matches = engines.customer_search_matches(conn, values["fts_tag"])
            tag_kind = "drives" if matches <= _most_driving(rows, conn.execute(_BOOK_SIZE).scalar() or 0) else "probe"
    if filt.segment_ids is not None:
        segment = "ids" if filt.segment_ids else "none"
        if filt.segment_ids:
            values["segment_ids"] = sorted(filt.segment_ids)
    shape = _Shape(dialect.name, text_kind, key_too, bool(filt.status), filt.owner is not None, tag_kind, segment)
    only_text = not (filt.status or filt.owner is not None or tag or filt.segment_ids is not None)
    return _Plan(shape, values, search_ids if only_text else None, search_query if only_text else None)


class _Dialect:
    """Enough of a dialect for ``engines`` to choose its SQL by name (statements are cached by it)."""

    def __init__(self, name: str) -> None:
        self.name = name


@lru_cache(maxsize=64)
def _where(shape: _Shape) -> tuple[ColumnElement[bool], ...]:
    dialect = _Dialect(shape.dialect)
    conds: list[ColumnElement[bool]] = []
    if shape.text == "prefix":
        conds.append(per_engine.starts_with(col(Customer.name_key), dialect))
    elif shape.text == "like":
        pattern: BindParameter[str] = bindparam("pattern")
        matches = [
            per_engine.contains(column, pattern, dialect)
            for column in (col(Customer.name), col(Customer.email), col(Customer.phone), col(Customer.industry))
        ]
        if shape.key:
            matches.append(col(Customer.name_key).like(bindparam("key_pattern"), escape="\\"))
        conds.append(or_(*matches))
    elif shape.text == "ids":  # only where there is a text index: SQLite
        conds.append(pk(Customer.id).in_(per_engine.listed_ids("search_ids")))
    elif shape.text == "probe":  # many matches: looked up while the sort index is walked
        conds.append(per_engine.not_a_plan_driver(pk(Customer.id)).in_(per_engine.customer_search_ids("fts_query")))
    if shape.status:
        conds.append(col(Customer.status) == bindparam("status"))
    if shape.owner:
        conds.append(col(Customer.owner) == bindparam("owner"))
    if shape.tag:
        padded = literal(",") + func.replace(func.replace(col(Customer.tags), ", ", ","), " ,", ",") + literal(",")
        conds.append(per_engine.contains(padded, bindparam("tag_pattern"), dialect))
        if shape.tag == "drives":
            conds.append(pk(Customer.id).in_(per_engine.customer_search_ids("fts_tag")))
        elif shape.tag == "probe":
            conds.append(per_engine.not_a_plan_driver(pk(Customer.id)).in_(per_engine.customer_search_ids("fts_tag")))
    if shape.segment == "ids":
        # integers rendered into the SQL: no bound-parameter limit for big segments
        conds.append(pk(Customer.id).in_(bindparam("segment_ids", expanding=True, literal_execute=True)))
    elif shape.segment == "none":
        conds.append(false())
    # A short id list drives (SQLite, without table statistics, would otherwise walk every live
    # customer testing each against it); a long one is only probed (the sort index drives).
    drives = shape.text == "ids" or shape.tag == "drives"
    live = (
        per_engine.not_a_plan_driver(col(Customer.deleted_at)).is_(None)
        if drives
        else col(Customer.deleted_at).is_(None)
    )
    return (live, *conds)


@lru_cache(maxsize=64)
def _count_statement(shape: _Shape) -> Select[int]:
    return select(func.count()).select_from(Customer).where(*_where(shape))


def _count(conn: Connection, plan: _Plan) -> int:
    if plan.search_ids is not None or plan.search_query is not None:
        # The text index's matches less the deleted customers among them: no customer row read
        # per match. Usually none is deleted: one index probe says
        # whether any customer is.
        if plan.search_ids is not None:
            matches = len(plan.search_ids)
        else:
            matches = engines.customer_search_matches(conn, cast(str, plan.search_query))  # cast only: tested above
        if conn.execute(_ANY_DELETED).first() is None:
            return matches
        among = _DELETED_AMONG_LISTED if plan.search_ids is not None else _DELETED_AMONG_MATCHES
        return matches - int(conn.execute(among, plan.values).scalar() or 0)
    return int(conn.execute(_count_statement(plan.shape), plan.values).scalar() or 0)


_ANY_DELETED = select(pk(Customer.id)).where(col(Customer.deleted_at).is_not(None)).limit(1)
#: deleted customers among the matches: the deleted rows (an index range) are walked and each
#: is looked up among the matches, never the other way round ("+id" keeps the key index out)
_DELETED = (col(Customer.deleted_at).is_not(None),)
_DELETED_AMONG_LISTED = (
    select(func.count())
    .select_from(Customer)
    .where(*_DELETED, per_engine.not_a_plan_driver(pk(Customer.id)).in_(per_engine.listed_ids("search_ids")))
)
_DELETED_AMONG_MATCHES = (
    select(func.count())
    .select_from(Customer)
    .where(*_DELETED, per_engine.not_a_plan_driver(pk(Customer.id)).in_(per_engine.customer_search_ids("fts_query")))
)
_BOOK_SIZE = select(func.max(pk(Customer.id)))  # ≈ customers ever made: enough to choose a plan, O(1)


def count_customers(db: Database, filt: CustomerFilter = CustomerFilter()) -> int:
    with db.read() as session:
        conn = session.connection()
        return _count(conn, _plan(filt, conn))


def _after(key_col: Mapped[str] | Mapped[dt.datetime], descending: bool) -> ColumnElement[bool]:
    """Rows after the bound keyset (``after_value``, ``after_id``) in (sort key, id) order: a
    row-value comparison the index can seek."""
    here = tuple_(key_col, pk(Customer.id))
    key_type = key_col.type  # type: ignore[union-attr]  # an ORM attribute proxies its column's; Mapped's stub omits it
    there = tuple_(bindparam("after_value", type_=key_type), bindparam("after_id"))
    return here < there if descending else here > there


def _open_value_by_customer(page: CTE) -> Subquery:
    """Σ amount of live open deals in the home currency per customer, only for the ids in ``page``
    (their deals in other currencies are converted and added by ``_foreign_open_values``)."""
    return (
        select(col(Deal.customer_id).label("customer_id"), func.sum(col(Deal.amount_cents)).label("open_value"))
        .join(Stage, pk(Stage.id) == col(Deal.stage_id))
        .where(
            col(Stage.outcome) == "open",
            col(Deal.deleted_at).is_(None),
            col(Deal.customer_id).in_(select(page.c.id)),
            col(Deal.currency) == bindparam("home_currency"),
        )
        .group_by(col(Deal.customer_id))
        .subquery("open_value")
    )


def fetch_page(
    db: Database,
    filt: CustomerFilter = CustomerFilter(),
    sort: Sort = Sort(),
    at: int | Keyset = 0,
    limit: int = 200,
) -> list[CustomerRow]:
    """Up to ``limit`` customers in ``sort`` order, starting at offset ``at``
    or just after the row a ``Keyset`` names."""
    with db.read() as session:
        conn = session.connection()
        rows_read = limit + (0 if isinstance(at, Keyset) else max(0, int(at)))  # an OFFSET walks its rows too
        return _fetch(conn, _plan(filt, conn, rows_read), sort, at, limit)


def first_page(db: Database, filt: CustomerFilter, sort: Sort, limit: int) -> tuple[list[CustomerRow], int]:
    """The first ``limit`` rows of a new search or filter and how many rows it has in all, in
    one read (the text index is consulted once for both). A short page is its own count."""
    with db.read() as session:
        conn = session.connection()
        plan = _plan(filt, conn, limit)
        rows = _fetch(conn, plan, sort, 0, limit)
        return rows, (len(rows) if len(rows) < limit else _count(conn, plan))


def rehearse_search(db: Database, sort: Sort = Sort("name")) -> None:
    """Build, compile and run once the statements a search runs, in each shape a search can
    take (1–2 letters, few text-index matches, many), so the first keystroke of each shape in a
    session does not pay for that. Meant for the app's warm-up thread. Pages are read with LIMIT 0 and counts
    only where an index answers at once, so no table is walked: where none would (no text
    index; a prefix LIKE on PostgreSQL) the count statement is only built."""
    nothing = "\u0001\u0002\u0003"  # no name, email, phone or industry holds control characters
    with db.read() as session:
        conn = session.connection()
        plans = [_plan(CustomerFilter(text=nothing[:2]), conn, 1), _plan(CustomerFilter(text=nothing), conn, 1)]
        if plans[-1].shape.text == "ids":  # a text index: its other shape, the probe, too
            query = engines.customer_search_query(nothing, name_key(nothing))
            plans.append(_Plan(replace(plans[-1].shape, text="probe"), {"fts_query": query}, None, query))
        seekable = engines.is_sqlite(conn.dialect)  # elsewhere a prefix LIKE may walk the table too
        for plan in plans:
            _fetch(conn, plan, sort, 0, 0)
            if seekable and plan.shape.text != "like":
                _count(conn, plan)  # an index range with nothing in it, or the text index's own count
            else:
                _count_statement(plan.shape)  # counting could read every customer: only built


def _fetch(conn: Connection, plan: _Plan, sort: Sort, at: int | Keyset, limit: int) -> list[CustomerRow]:
    keyset = isinstance(at, Keyset)
    values = dict(
        plan.values, page_limit=max(0, int(limit)), page_offset=0 if isinstance(at, Keyset) else max(0, int(at))
    )
    if isinstance(at, Keyset):
        values.update(after_value=at.value, after_id=at.id)
    rates = load_rates_conn(conn)
    values["home_currency"] = rates.home
    rows = conn.execute(_page_statement(plan.shape, sort.column, sort.descending, keyset), values).all()
    foreign = _foreign_open_values(conn, rates, [r.id for r in rows]) if rates.per_unit and rows else {}
    out = []
    for r in rows:
        updated = r.updated_at
        if isinstance(updated, dt.datetime) and updated.tzinfo is None:
            updated = updated.replace(tzinfo=dt.UTC)
        sort_value = updated if sort.column == "updated" else r.sort_value
        out.append(
            CustomerRow(
                r.id,
                r.name,
                r.status,
                r.owner,
                r.email,
                r.phone,
                r.industry,
                r.tags,
                int(r[-1] or 0) + foreign.get(r.id, 0),
                updated,
                sort_value,
            )
        )
    return out


def _foreign_open_values(conn: Connection, rates: Rates, ids: list[int]) -> dict[int, int]:
    """customer id → Σ its live open deals in the currencies that have a rate, converted to the
    home currency (summed per currency, each sum converted once); one query for the page's ids.
    A currency with no rate is left out of the column, as from every total."""
    q = (
        select(col(Deal.customer_id), col(Deal.currency), func.sum(col(Deal.amount_cents)))
        .join(Stage, pk(Stage.id) == col(Deal.stage_id))
        .where(
            col(Stage.outcome) == "open",
            col(Deal.deleted_at).is_(None),
            col(Deal.customer_id).in_(ids),
            col(Deal.currency).in_(sorted(rates.per_unit)),
        )
        .group_by(col(Deal.customer_id), col(Deal.currency))
    )
    out: dict[int, int] = {}
    for cid, currency, cents in conn.execute(q):
        if cid is not None:
            out[cid] = out.get(cid, 0) + (rates.to_home(int(cents or 0), currency) or 0)
    return out


@lru_cache(maxsize=256)
def _page_statement(
    shape: _Shape, column: str, descending: bool, keyset: bool
) -> Select[*tuple[Any, ...]]:  # a CTE's columns: SQLAlchemy does not type them
    key_col = SORT_COLUMNS[column]
    conds = list(_where(shape))
    if keyset:
        conds.append(_after(key_col, descending))
    order = (key_col.desc(), pk(Customer.id).desc()) if descending else (key_col.asc(), pk(Customer.id).asc())
    page = (
        select(
            pk(Customer.id),
            col(Customer.name),
            col(Customer.status),
            col(Customer.owner),
            col(Customer.email),
            col(Customer.phone),
            col(Customer.industry),
            col(Customer.tags),
            col(Customer.updated_at),
            key_col.label("sort_value"),
        )
        .where(*conds)
        .order_by(*order)
        .limit(_LIMIT)
        .offset(_OFFSET)
        .cte("page")  # used twice below; a CTE is computed once
    )
    ov = _open_value_by_customer(page)
    sv = page.c.sort_value
    outer_order = (sv.desc(), page.c.id.desc()) if descending else (sv.asc(), page.c.id.asc())
    return (
        select(page, func.coalesce(ov.c.open_value, 0))
        .select_from(page)
        .outerjoin(ov, ov.c.customer_id == page.c.id)
        .order_by(*outer_order)
    )


@lru_cache(maxsize=128)
def _position_statements(shape: _Shape, column: str, descending: bool) -> tuple[Select[object], Select[int]]:
    key_col = SORT_COLUMNS[column]
    conds = _where(shape)
    value = select(key_col).where(pk(Customer.id) == bindparam("customer_id"), *conds)
    before = select(func.count()).select_from(Customer).where(*conds, _after(key_col, not descending))
    return value, before


def customer_position(db: Database, filt: CustomerFilter, sort: Sort, customer_id: int) -> int | None:
    """Where ``customer_id`` sits in the filtered, sorted list (0-based), or None if it is not in it."""
    with db.read() as session:
        conn = session.connection()
        plan = _plan(filt, conn)
        value_q, before_q = _position_statements(plan.shape, sort.column, sort.descending)
        value = conn.execute(value_q, dict(plan.values, customer_id=customer_id)).first()
        if value is None:
            return None
        return int(conn.execute(before_q, dict(plan.values, after_value=value[0], after_id=customer_id)).scalar() or 0)


@dataclass(frozen=True)
class FilterChoices:
    owners: list[str]
    tags: list[str]


def filter_choices(db: Database) -> FilterChoices:
    """Owners and tags in use (distinct values; tags split from their comma lists)."""
    live = col(Customer.deleted_at).is_(None)
    with db.read() as session:
        conn = session.connection()
        owners = [
            o for (o,) in conn.execute(select(col(Customer.owner)).where(live).distinct().order_by(col(Customer.owner)))
        ]
        tag_lists = conn.execute(
            select(col(Customer.tags), func.count()).where(live, col(Customer.tags) != "").group_by(col(Customer.tags))
        ).all()
    # one entry per tag whatever its case, spelled as most customers spell it (ties: the
    # first in code-point order), so every engine shows the same choice
    spellings: dict[str, Counter[str]] = {}
    for value, uses in tag_lists:
        for tag in value.split(","):
            tag = tag.strip()
            if tag:
                spellings.setdefault(tag.casefold(), Counter())[tag] += uses
    tags = [min(c, key=lambda t: (-c[t], t)) for c in spellings.values()]
    return FilterChoices([o for o in owners if o], sorted(tags, key=str.casefold))
