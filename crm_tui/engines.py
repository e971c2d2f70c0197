"""Engine-specific SQL lives here, and only here (with the sibling modules this one re-exports).

Everything else in the core speaks portable SQLAlchemy. When PostgreSQL (or
another engine) is supported, each function below gains a branch for it.

This module holds SQLite's connection set-up and files, the portable expressions with a body
per engine, and the per-engine steps of transactions, imports and bulk writes. Two parts live
beside it, and every name of theirs is reachable here as ``engines.<name>``:

- ``crm_tui.engines_pg``: PostgreSQL's connection and session settings (connect arguments,
  TLS, timeouts, the team login, the client's watchdog on a server that stops answering);
- ``crm_tui.engines_search``: the customer text search and the list's LIKE/prefix conditions.

(``crm_tui.engines_base`` holds ``is_sqlite``, which all three share.)
A test that changes a setting with ``monkeypatch`` patches the module that reads it.
"""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, func
from sqlalchemy.engine import Engine

from crm_tui.engines_base import is_sqlite as is_sqlite
from crm_tui.engines_pg import CLIENT_GRACE_S as CLIENT_GRACE_S
from crm_tui.engines_pg import IDLE_IN_TRANSACTION_TIMEOUT_S as IDLE_IN_TRANSACTION_TIMEOUT_S
from crm_tui.engines_pg import KEEPALIVES as KEEPALIVES
from crm_tui.engines_pg import LOCAL_HOSTS as LOCAL_HOSTS
from crm_tui.engines_pg import PG_CONNECT_TIMEOUT_S as PG_CONNECT_TIMEOUT_S
from crm_tui.engines_pg import STATEMENT_TIMEOUT_S as STATEMENT_TIMEOUT_S
from crm_tui.engines_pg import TCP_USER_TIMEOUT_MS as TCP_USER_TIMEOUT_MS
from crm_tui.engines_pg import TEAM_ROLES as TEAM_ROLES
from crm_tui.engines_pg import WATCHDOG as WATCHDOG
from crm_tui.engines_pg import Watchdog as Watchdog
from crm_tui.engines_pg import configure_postgresql as configure_postgresql
from crm_tui.engines_pg import is_local_host as is_local_host
from crm_tui.engines_pg import long_statements as long_statements
from crm_tui.engines_pg import postgresql_connect_args as postgresql_connect_args
from crm_tui.engines_pg import statement_limit as statement_limit
from crm_tui.engines_pg import team_login as team_login
from crm_tui.engines_pg import tls_connect_args as tls_connect_args
from crm_tui.engines_search import CUSTOMER_SEARCH_COLUMNS as CUSTOMER_SEARCH_COLUMNS
from crm_tui.engines_search import SEARCH_MIN_CHARS as SEARCH_MIN_CHARS
from crm_tui.engines_search import contains as contains
from crm_tui.engines_search import create_customer_search as create_customer_search
from crm_tui.engines_search import customer_search_id_list as customer_search_id_list
from crm_tui.engines_search import customer_search_ids as customer_search_ids
from crm_tui.engines_search import customer_search_matches as customer_search_matches
from crm_tui.engines_search import customer_search_query as customer_search_query
from crm_tui.engines_search import customer_tag_query as customer_tag_query
from crm_tui.engines_search import has_customer_search as has_customer_search
from crm_tui.engines_search import listed_ids as listed_ids
from crm_tui.engines_search import not_a_plan_driver as not_a_plan_driver
from crm_tui.engines_search import starts_with as starts_with
from crm_tui.engines_search import starts_with_values as starts_with_values

BUSY_TIMEOUT_S = 5.0
#: page cache ceiling of an import's connection (KiB), see ``import_cache``
IMPORT_CACHE_KIB = 256 * 1024


# --- SQLite connection set-up -------------------------------------------------


def configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` for writes.

    pysqlite's own implicit BEGIN is switched off so that we emit BEGIN
    ourselves: deferred for reads, IMMEDIATE for writes. A deferred read that
    later upgrades to a write is what gives "database is locked" with two
    processes; IMMEDIATE takes the write lock up front and waits politely.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised via engine
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA foreign_keys = ON")
        mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() not in ("wal", "memory"):
            cur.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit that returned survives even a power cut, not only kill -9.
        cur.execute("PRAGMA synchronous = FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - exercised via engine
        if conn.get_execution_options().get("crm_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def sqlite_path(url) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory / other engines."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file::memory"):
        return None
    if database.startswith("file:") and str(url.query.get("uri", "")).lower() in ("true", "1"):
        # sqlite:///file:/path/crm.sqlite3?mode=ro&uri=true names /path/crm.sqlite3
        from urllib.parse import unquote, urlsplit

        if url.query.get("mode") == "memory":
            return None
        database = unquote(urlsplit(database).path)
        if not database:
            return None
    return Path(database).expanduser()


def sqlite_read_only(url) -> bool:
    """A SQLite URI opened with ``mode=ro``: never create or chmod anything for it."""
    return url.get_backend_name() == "sqlite" and url.query.get("mode") == "ro"


def prepare_private_file(path: Path) -> None:
    """Create the database file 0600 in a 0700 folder before SQLite touches it."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        os.chmod(folder, 0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        os.close(fd)


def backup_sqlite(src_path: Path, dest: Path) -> None:
    """A consistent copy using SQLite's online backup API (safe while in use).

    The copy is written under a temporary name beside ``dest`` and renamed into
    place once complete, so ``dest`` never exists half-written, even after kill -9.
    """
    dest = Path(dest)
    clean_partials(dest.parent)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    prepare_private_file(partial)
    try:
        src = sqlite3.connect(str(src_path), timeout=BUSY_TIMEOUT_S)
        try:
            dst = sqlite3.connect(str(partial))
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        os.chmod(partial, 0o600)
        os.replace(partial, dest)
    except BaseException:
        for leftover in (partial, Path(f"{partial}-journal")):
            leftover.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


_PARTIAL = re.compile(r"^\..+\.(\d+)\.partial(?:-journal)?$")


def clean_partials(folder: Path) -> list[Path]:
    """Remove half-written copies (``.NAME.PID.partial``) that ``backup_sqlite`` left when its
    process was killed: those whose process is gone. → what was removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        found = _PARTIAL.match(entry.name)
        if found is None or int(found.group(1)) == os.getpid() or _alive(int(found.group(1))):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive
        return True
    return True


# --- Portable expressions with per-engine bodies ------------------------------


def days_between(start, end, dialect):
    """Fractional days from ``start`` to ``end`` as a SQL expression."""
    if is_sqlite(dialect):
        return func.julianday(end) - func.julianday(start)
    return func.extract("epoch", end - start) / 86400.0


def month_key(col, dialect):
    """'YYYY-MM' of a timestamp column as a SQL expression."""
    if is_sqlite(dialect):
        return func.strftime("%Y-%m", col)
    return func.to_char(col, "YYYY-MM")


#: PostgreSQL's json_build_object takes at most 100 arguments: a name and a value per column
_JSON_MAX_COLUMNS = 50


def row_json(table, alias: str, dialect) -> str:
    """SQL for a row of ``table`` (named ``alias`` in the query) as JSON text: every column by
    name, the form the change journal stores a removed row in (``journal.decode`` reads it).

    Built by the database so that undoing a large import journals the rows it removes
    without fetching each one into Python while the write lock is held. Times come out as
    the engine holds them: SQLite's naive UTC text, PostgreSQL's ISO text with its offset
    (sessions run in UTC)."""
    if len(table.c) > _JSON_MAX_COLUMNS:
        raise ValueError(f"{table.name} has {len(table.c)} columns; row_json builds at most {_JSON_MAX_COLUMNS}")
    quote = dialect.identifier_preparer.quote
    pairs = ", ".join(f"'{c.name}', {alias}.{quote(c.name)}" for c in table.c)
    if is_sqlite(dialect):
        return f"json_object({pairs})"
    return f"CAST(json_build_object({pairs}) AS TEXT)"


def json_document(text: str, dialect) -> str:
    """SQL that parses the JSON text ``text`` once, for ``json_field`` to read columns from."""
    return text if is_sqlite(dialect) else f"CAST({text} AS JSON)"


def json_field(column, document: str, dialect) -> str:
    """SQL for ``column``'s value in a row made by ``row_json`` (``document`` from
    ``json_document``), as the column stores it, so the row can be inserted again as it was."""
    if is_sqlite(dialect):
        # json_extract gives text, integers and NULL back as SQL values: the stored text of a
        # time or a date is written back byte for byte
        return f"json_extract({document}, '$.{column.name}')"
    return f"CAST({document} ->> '{column.name}' AS {column.type.compile(dialect=dialect)})"


def reserve_ids(conn, table, count: int) -> int:
    """First of ``count`` consecutive free primary keys of ``table`` for a bulk insert
    with explicit ids, inside the current write transaction (an import's merge copies its
    staged rows with ids computed from it)."""
    from sqlalchemy import select, text

    if is_sqlite(conn.dialect):
        # BEGIN IMMEDIATE holds the only write lock, so max(id)+1... stays free.
        return (conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1
    # PostgreSQL: the block is taken from the table's sequence, without locking the table, so
    # other sessions go on saving during the merge. Between nextval and setval (one statement)
    # another session's nextval could land inside the block; the insert then fails on the
    # primary key (``is_id_clash``) and the import stages again.
    last = conn.execute(
        text(
            "SELECT setval(seq, greatest(nextval(seq), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table.name})) + :n - 1) "
            "FROM (SELECT pg_get_serial_sequence(:t, 'id') AS seq) AS s"
        ),
        {"t": table.name, "n": max(count, 1)},
    ).scalar()
    return int(last) - max(count, 1) + 1


def is_id_clash(exc) -> bool:
    """Whether an IntegrityError is a duplicate primary key (see ``reserve_ids``)."""
    orig = getattr(exc, "orig", exc)
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None) or ""
    return constraint.endswith("_pkey") or ".id" in str(orig).split("failed:", 1)[-1].split(",")[0]


def update_from_staged(live: str, staged: str, sets: list[tuple[str, str]], where: str, dialect) -> str:
    """SQL that sets columns of ``live`` from the staged row ``s`` of the same id (``where``
    picks the staged rows, as ``s``). PostgreSQL joins (UPDATE … FROM); SQLite reads the row
    through a correlated subquery, which older SQLite versions understand too."""
    if is_sqlite(dialect):
        cols = [c for c, _ in sets]
        values = ", ".join(v for _, v in sets)
        target = cols[0] if len(cols) == 1 else f"({', '.join(cols)})"
        pick = f"s.id = {live}.id AND {where}"
        return (
            f"UPDATE {live} SET {target} = (SELECT {values} FROM {staged} s WHERE {pick}) "
            f"WHERE EXISTS (SELECT 1 FROM {staged} s WHERE {pick})"
        )
    assignments = ", ".join(f"{c} = {v}" for c, v in sets)
    return f"UPDATE {live} SET {assignments} FROM {staged} s WHERE s.id = {live}.id AND {where}"


# --- Per-engine transactions, imports and write ordering ----------------------------

# pg_advisory_xact_lock key that orders change_log ids by commit (ASCII "crmlog").
CHANGE_LOG_LOCK_KEY = 0x63726D6C6F67


def read_options(dialect) -> dict:
    """Execution options of a read session: one snapshot for all its statements.

    SQLite's deferred transaction already reads one snapshot; PostgreSQL's default
    READ COMMITTED takes one per statement, so a report could mix two states.
    """
    if is_sqlite(dialect):
        return {}
    return {"isolation_level": "REPEATABLE READ"}


def begin_import_snapshot(conn) -> None:
    """The first statement of an import's staging transaction: every read sees one snapshot.

    SQLite's deferred transaction already does. On PostgreSQL REPEATABLE READ does, and the
    session's statement and idle limits are lifted for this transaction only: it waits on
    pandas between statements and holds no lock that anyone's save waits for.
    """
    if is_sqlite(conn.dialect):
        return
    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    conn.exec_driver_sql("SET LOCAL idle_in_transaction_session_timeout = 0")


def analyze(conn, table_name: str) -> None:
    """Statistics for a temporary table (PostgreSQL's autovacuum never looks at one, and the
    planner would otherwise guess its size)."""
    if not is_sqlite(conn.dialect):
        conn.exec_driver_sql(f"ANALYZE {table_name}")


def differs(a: str, b: str, dialect) -> str:
    """SQL that is true when the expressions ``a`` and ``b`` differ, two NULLs being equal."""
    if is_sqlite(dialect):
        return f"({a} IS NOT {b})"
    return f"({a} IS DISTINCT FROM {b})"


@contextmanager
def import_cache(conn):
    """A larger page cache on an import's own connection while it runs (SQLite).

    An import's merge adds each row to every index of its tables at scattered places; with
    SQLite's default 2 MiB cache those pages are evicted and read again (the merge of a big
    file took several times as long). The size is a ceiling, taken only as pages are used;
    the pooled connection gets its old setting back."""
    if not is_sqlite(conn.dialect):
        yield
        return
    old = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    conn.commit()
    try:
        yield
    finally:
        if not conn.invalidated:
            if conn.in_transaction():
                conn.rollback()
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(old)}")
            conn.commit()


def lock_rows_for_write(dialect) -> bool:
    """Whether a write session must load rows with SELECT ... FOR UPDATE.

    SQLite's BEGIN IMMEDIATE already serialises writers. Under PostgreSQL's READ
    COMMITTED two sessions could both read version N, both pass the version check
    and the second would overwrite the first; FOR UPDATE makes the second wait and
    then read the first one's committed row.
    """
    return not is_sqlite(dialect)


def order_change_log(conn) -> None:
    """Serialise the tail of write transactions so change_log ids commit in id order.

    A sequence hands out ids at insert time, so a transaction holding id 7 can
    commit after one holding id 8; a poller that has seen 8 would skip 7 forever.
    Under this lock (held to commit) the next id is max(id)+1 and is visible only
    after every smaller id. SQLite's single writer needs nothing.
    """
    if not is_sqlite(conn.dialect):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CHANGE_LOG_LOCK_KEY})")


def reset_id_sequence(conn, table) -> None:
    """After inserting explicit ids, make the next generated id follow the largest one."""
    if is_sqlite(conn.dialect) or "id" not in table.c:
        return
    from sqlalchemy import text

    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
            f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
        ),
        {"t": table.name},
    )


def bulk_insert_rows(conn, table, rows: list[dict], *, name: str | None = None) -> None:
    """executemany of plain rows straight to the driver (no per-value type processing):
    timezone-aware datetimes and dates are converted here the way each engine stores them
    (SQLite: naive UTC text as SQLAlchemy writes it; PostgreSQL: the values as they are).
    ``name`` writes them to another table of the same columns (an import's staging table)."""
    import datetime as dt

    if not rows:
        return
    cols = list(rows[0])
    sqlite = is_sqlite(conn.dialect)
    kinds = {}
    for c in cols:
        sample = next((r[c] for r in rows if r[c] is not None), None)
        kinds[c] = "ts" if isinstance(sample, dt.datetime) else "date" if isinstance(sample, dt.date) else ""
    utc = dt.UTC

    def conv(c, v):
        if v is None:
            return None
        if kinds[c] == "ts":
            v = v.astimezone(utc)
            if sqlite:
                return v.strftime("%Y-%m-%d %H:%M:%S.%f")
            return v.to_pydatetime() if hasattr(v, "to_pydatetime") else v
        return v.isoformat() if sqlite else v

    special = [c for c in cols if kinds[c]]
    data = []
    for r in rows:
        rec = dict(r)
        for c in special:
            rec[c] = conv(c, rec[c])
        data.append(tuple(rec[c] for c in cols))
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(name or table.name)} ({', '.join(quote(c) for c in cols)}) "
        f"VALUES ({', '.join([mark] * len(cols))})"
    )
    conn.exec_driver_sql(sql, data)


def bulk_timestamps(series, dialect):
    """A pandas UTC datetime column → values for ``bulk_insert_rows``, converted in one
    vectorised step (SQLite: the naive UTC text SQLAlchemy stores; others: datetimes)."""
    notna = series.notna().to_numpy()
    if is_sqlite(dialect):
        text = series.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_numpy(dtype=object)
    else:
        text = series.astype(object).to_numpy(dtype=object, copy=True)
    text[~notna] = None
    return text
