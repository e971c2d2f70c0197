"""Customer text search: the index behind it (``create_customer_search``), the queries
and subqueries that read it, and the portable LIKE and prefix conditions the customer
list falls back on.

Every name here is re-exported by ``crm_tui.engines``, where callers find it.
"""

from __future__ import annotations

import weakref

from sqlalchemy.engine import Engine

from crm_tui.engines_base import is_sqlite

# SQLite: an FTS5 trigram index over the searched customer columns, kept in step by
# triggers, answers a substring search of 3+ characters from the index instead of
# reading every row (see benchmarks/RESULTS.md). PostgreSQL: a pg_trgm GIN
# index makes the same ILIKE fast where the extension may be installed; elsewhere
# ILIKE reads the table.

CUSTOMER_SEARCH_COLUMNS = ("name", "email", "phone", "industry", "name_key", "tags")
#: a trigram index cannot answer a shorter substring
SEARCH_MIN_CHARS = 3


def create_customer_search(conn) -> None:
    """Create the customer search index if missing (idempotent; inside the caller's transaction)."""
    if is_sqlite(conn.dialect):
        if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'customer_fts'").first():
            return
        try:
            conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.crm_trigram_probe USING fts5(x, tokenize='trigram')")
            conn.exec_driver_sql("DROP TABLE temp.crm_trigram_probe")
        except Exception:  # noqa: BLE001 - an SQLite built without FTS5 or trigram (< 3.34): search reads the table
            return
        cols = ", ".join(CUSTOMER_SEARCH_COLUMNS)
        new = ", ".join(f"new.{c}" for c in CUSTOMER_SEARCH_COLUMNS)
        old = ", ".join(f"old.{c}" for c in CUSTOMER_SEARCH_COLUMNS)
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE customer_fts USING fts5({cols}, content='customer', content_rowid='id', "
            "tokenize='trigram')"
        )
        conn.exec_driver_sql(
            f"CREATE TRIGGER customer_fts_ai AFTER INSERT ON customer BEGIN "
            f"INSERT INTO customer_fts(rowid, {cols}) VALUES (new.id, {new}); END"
        )
        conn.exec_driver_sql(
            f"CREATE TRIGGER customer_fts_ad AFTER DELETE ON customer BEGIN "
            f"INSERT INTO customer_fts(customer_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); END"
        )
        conn.exec_driver_sql(
            f"CREATE TRIGGER customer_fts_au AFTER UPDATE OF {cols} ON customer BEGIN "
            f"INSERT INTO customer_fts(customer_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); "
            f"INSERT INTO customer_fts(rowid, {cols}) VALUES (new.id, {new}); END"
        )
        conn.exec_driver_sql("INSERT INTO customer_fts(customer_fts) VALUES ('rebuild')")
        return
    if conn.dialect.name == "postgresql":
        # The extension needs a privilege a rep's login may lack: try in a savepoint, and
        # without it keep the plain ILIKE (correct, only slower).
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cols = ", ".join(f"{c} gin_trgm_ops" for c in ("name", "email", "phone", "industry", "name_key"))
                conn.exec_driver_sql(
                    f"CREATE INDEX IF NOT EXISTS ix_customer_search_trgm ON customer USING gin ({cols})"
                )
        except Exception:  # noqa: BLE001 - no trigram extension or no right to create it: search reads the table
            pass


_SEARCH_READY: weakref.WeakSet[Engine] = weakref.WeakSet()


def has_customer_search(conn) -> bool:
    """Whether the customer text index (``customer_search_id_list``, ``customer_search_ids``)
    and ``listed_ids`` can be used on this connection's database — looked up once per engine:
    the index, once made by the schema upgrade, is never dropped."""
    if not is_sqlite(conn.dialect):
        return False
    if conn.engine in _SEARCH_READY:
        return True
    found = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'customer_fts'").first() is not None
    if found:
        try:  # JSON functions: built in since SQLite 3.38, an option before
            conn.exec_driver_sql("SELECT value FROM json_each('[1]')").all()
        except Exception:  # noqa: BLE001 - an SQLite without JSON functions
            return False  # search reads the table (correct, only slower)
        _SEARCH_READY.add(conn.engine)
    return found


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def customer_search_ids(column: str):
    """A subquery for ``Customer.id.in_(...)``: ids of customers the trigram index matches for
    the bound parameter ``column`` (a query made by ``customer_search_query`` or
    ``customer_tag_query``). Only when ``has_customer_search``."""
    from sqlalchemy import text as sql_text

    return sql_text(f"SELECT rowid FROM customer_fts WHERE customer_fts MATCH :{column}")


def customer_search_query(text: str, key: str) -> str:
    """The text-index query for a search: name, email, phone or industry contains ``text``
    (any case), or the name's matching key contains ``key``. ``len(text) >= SEARCH_MIN_CHARS``."""
    query = "{name email phone industry} : " + _phrase(text)
    if len(key) >= SEARCH_MIN_CHARS:
        query += " OR name_key : " + _phrase(key)
    return query


def customer_tag_query(tag: str) -> str:
    """The text-index query for customers whose tags contain ``tag`` (a prefilter)."""
    return "tags : " + _phrase(tag)


def customer_search_id_list(conn, query: str, limit: int) -> list[int]:
    """Up to ``limit`` ids the text index matches for ``query`` (deleted customers included):
    fewer than ``limit`` is all of them."""
    # read from the driver's cursor: thousands of ids without a result row object each (half
    # the cost of .scalars().all() at 3,000 matches)
    result = conn.exec_driver_sql(
        "SELECT rowid FROM customer_fts WHERE customer_fts MATCH ? LIMIT ?", (query, int(limit))
    )
    try:
        return [rowid for (rowid,) in result.cursor.fetchall()]
    finally:
        result.close()


def listed_ids(name: str):
    """A subquery for ``col.in_(...)``: the integers of the bound parameter ``name``, given as a
    JSON array (``json.dumps(ids)``). One parameter whatever the list's length: the statement's
    text stays the same, and nothing is expanded per id on the way. SQLite only."""
    from sqlalchemy import text as sql_text

    return sql_text(f"SELECT value FROM json_each(:{name})")


def customer_search_matches(conn, query: str) -> int:
    """How many rows (deleted ones included) the text index matches for ``query``."""
    return int(
        conn.exec_driver_sql("SELECT count(*) FROM customer_fts WHERE customer_fts MATCH ?", (query,)).scalar() or 0
    )


def not_a_plan_driver(col):
    """``col`` as an expression no index of SQLite's can drive (``coalesce(col, NULL)``, same
    value), to choose which condition leads a query: without table statistics SQLite may walk
    all live customers testing each against a short text-index id list instead of fetching
    the listed ids — or the other way round for a long list."""
    from sqlalchemy import func, null

    return func.coalesce(col, null(), type_=col.type)


def contains(col, pattern, dialect):
    """``col`` matches the LIKE ``pattern`` (a string or a bound parameter) in any (ASCII) case,
    escaped with backslash.

    SQLite's LIKE already ignores ASCII case: no lower() on both sides of every row.
    """
    if is_sqlite(dialect):
        return col.like(pattern, escape="\\")
    return col.ilike(pattern, escape="\\")


def starts_with(col, dialect):
    """``col`` begins with a prefix given by the parameters ``starts_with_values`` makes: on
    SQLite a range an index can seek (its LIKE 'x%' cannot use an ordinary index), elsewhere
    a plain prefix LIKE."""
    from sqlalchemy import and_, bindparam

    if is_sqlite(dialect):
        return and_(col >= bindparam("prefix_from"), col < bindparam("prefix_to"))
    return col.like(bindparam("prefix_like"), escape="\\")


def starts_with_values(prefix: str, dialect) -> dict:
    if is_sqlite(dialect):
        return {"prefix_from": prefix, "prefix_to": prefix + "\U0010ffff"}
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"prefix_like": escaped + "%"}
