"""Engine-specific SQL lives here, and only here.

Everything else in the core speaks portable SQLAlchemy. When PostgreSQL (or
another engine) is supported, each function below gains a branch for it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, func
from sqlalchemy.engine import Engine

BUSY_TIMEOUT_S = 5.0
#: page cache ceiling of an import's connection (KiB), see ``import_cache``
IMPORT_CACHE_KIB = 256 * 1024


def is_sqlite(engine_or_dialect) -> bool:
    dialect = getattr(engine_or_dialect, "dialect", engine_or_dialect)
    return dialect.name == "sqlite"


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


# --- PostgreSQL connection set-up and write ordering -----------------------------

PG_CONNECT_TIMEOUT_S = 10
#: the server cancels a statement running longer (a save stuck behind another session's lock)
STATEMENT_TIMEOUT_S = 10
#: the client gives up on a server that has not answered this long after the statement limit
#: (a server that stops answering cannot cancel anything itself)
CLIENT_GRACE_S = 2
#: the server ends a session left inside a transaction doing nothing (a client that hung
#: or vanished), releasing the rows it locked
IDLE_IN_TRANSACTION_TIMEOUT_S = 60
#: TCP keepalives: a server host that vanished is noticed within about 25 s
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
TCP_USER_TIMEOUT_MS = 20_000
# pg_advisory_xact_lock key that orders change_log ids by commit (ASCII "crmlog").
CHANGE_LOG_LOCK_KEY = 0x63726D6C6F67


#: hosts that are this machine: a connection to any other host requires TLS unless told otherwise
LOCAL_HOSTS = frozenset({"", "localhost", "localhost.localdomain", "::1"})


def is_local_host(host: str | None) -> bool:
    """Whether ``host`` (a name, an address, a Unix socket folder, or a libpq comma list)
    names only this machine."""
    for one in (host or "").split(","):
        one = one.strip().lower().strip("[]")
        if one in LOCAL_HOSTS or one.startswith(("/", "@")):
            continue
        if re.fullmatch(r"127(?:\.\d{1,3}){3}", one):
            continue
        return False
    return True


def tls_connect_args(url) -> dict:
    """``sslmode=require`` for a server on another machine, unless the URL sets ``sslmode``
    (``?sslmode=verify-full`` to check the certificate too, ``?sslmode=disable`` only on a
    network you trust) or ``$PGSSLMODE`` does: passwords and data then never cross the network
    in clear, even if libpq's default (``prefer``) would fall back to it."""
    if "sslmode" in url.query or os.environ.get("PGSSLMODE"):
        return {}
    host = url.query.get("host") or url.host
    if isinstance(host, tuple):  # ?host=a&host=b
        host = ",".join(host)
    if is_local_host(host if host is not None else os.environ.get("PGHOST")):
        return {}
    return {"sslmode": "require"}


def postgresql_connect_args(url) -> dict:
    """Every connection: sessions in UTC (dates, months, to_char) whatever the server's time
    zone; a server that does not answer fails within ``PG_CONNECT_TIMEOUT_S``; statements
    end after ``STATEMENT_TIMEOUT_S`` and idle transactions after
    ``IDLE_IN_TRANSACTION_TIMEOUT_S``; TCP keepalives notice a vanished host; TLS is required
    for another machine (``tls_connect_args``). A value given in the URL wins."""
    options = (
        f"-c timezone=UTC -c statement_timeout={STATEMENT_TIMEOUT_S * 1000} "
        f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_S * 1000}"
    )
    args: dict = {"options": options}
    defaults = {"connect_timeout": PG_CONNECT_TIMEOUT_S, **KEEPALIVES, "tcp_user_timeout": TCP_USER_TIMEOUT_MS}
    args.update({k: v for k, v in defaults.items() if k not in url.query})
    args.update(tls_connect_args(url))
    return args


#: the group roles of a team on PostgreSQL (``crm-tui team``); a login in one of them is a rep
#: whose name is their login
TEAM_ROLES = ("crm_rep", "crm_manager", "crm_viewer")


def team_login(conn) -> str | None:
    """On PostgreSQL, the session's login when it is a member of a team role (``TEAM_ROLES``):
    who the rep is, decided by the server, not by a setting. None elsewhere (SQLite, a login
    shared by a team that has no roles): the rep's name then comes from the settings.

    The login is ``session_user`` (whom the server authenticated), not ``current_user``
    (which ``SET ROLE`` changes). Membership is read from ``pg_auth_members``, so a
    superuser, who passes every ``pg_has_role``, is not taken for a rep."""
    if is_sqlite(conn.dialect) or conn.dialect.name != "postgresql":
        return None
    from sqlalchemy import text

    row = conn.execute(
        text(
            "SELECT session_user, EXISTS (SELECT 1 FROM pg_auth_members m "
            "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
            "WHERE u.rolname = session_user AND g.rolname = ANY(:roles))"
        ),
        {"roles": list(TEAM_ROLES)},
    ).one()
    return str(row[0]) if row[1] else None


def configure_postgresql(engine: Engine) -> None:
    """Give up on a server that stops answering (its process frozen, a network that drops
    packets without a reset): no statement, commit, rollback or ping waits longer than
    the statement limit plus ``CLIENT_GRACE_S``. The server's own timeouts cannot help
    then, and TCP keepalives are answered by the host's kernel even while the database
    process is stopped. When the time is up the connection's socket is shut, the call
    fails, and the connection is discarded: a save abandoned this way can no longer send
    its COMMIT when the server comes back."""
    dialect = engine.dialect

    def guarded(method, conn_of, what):
        def call(*args, **kwargs):
            conn = conn_of(args[0])
            with WATCHDOG.guard(conn, statement_limit(conn), what):
                return method(*args, **kwargs)

        return call

    cursor_conn = lambda cursor: cursor.connection  # noqa: E731
    same = lambda conn: conn  # noqa: E731
    dialect.do_execute = guarded(dialect.do_execute, cursor_conn, "statement")
    dialect.do_executemany = guarded(dialect.do_executemany, cursor_conn, "statement")
    dialect.do_execute_no_params = guarded(dialect.do_execute_no_params, cursor_conn, "statement")
    dialect.do_commit = guarded(dialect.do_commit, same, "commit")
    dialect.do_rollback = guarded(dialect.do_rollback, same, "rollback")
    dialect.do_ping = guarded(dialect.do_ping, same, "statement")


#: id of a driver connection → its statement limit while ``long_statements`` runs
_LIMITS: dict[int, float | None] = {}


def _driver(conn):
    """The driver's own connection behind SQLAlchemy's proxies."""
    return getattr(conn, "dbapi_connection", None) or getattr(conn, "driver_connection", None) or conn


def statement_limit(dbapi_conn) -> float | None:
    """The seconds a statement may take on this driver connection (None: no limit)."""
    return _LIMITS.get(id(_driver(dbapi_conn)), STATEMENT_TIMEOUT_S)


@contextmanager
def long_statements(conn):
    """Inside the current transaction: statements may take as long as they need — an import's
    merge, a schema upgrade's index builds. The server's limit is lifted for this transaction
    only (SET LOCAL), the client's for the duration of the block."""
    if is_sqlite(conn.dialect):
        yield
        return
    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
    key = id(_driver(conn.connection))
    _LIMITS[key] = None
    try:
        yield
    finally:
        _LIMITS.pop(key, None)


class Watchdog:
    """One background thread that shuts the socket of a connection whose call overran."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, object, int, float, str]] = {}
        self._fired: dict[int, tuple[float, str]] = {}
        self._thread: threading.Thread | None = None
        self._next = 0

    @contextmanager
    def guard(self, dbapi_conn, limit: float | None, what: str):
        if limit is None:
            yield
            return
        allowed = limit + CLIENT_GRACE_S
        with self._cond:
            self._next += 1
            key = self._next
            self._armed[key] = (time.monotonic() + allowed, dbapi_conn, threading.get_ident(), allowed, what)
            self._start()
            self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._armed.pop(key, None)

    def take_timeout(self) -> tuple[float, str] | None:
        """(seconds allowed, 'statement' or 'commit') if this thread's last call was given up on."""
        with self._cond:
            return self._fired.pop(threading.get_ident(), None)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="crm-pg-watchdog", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [k for k, armed in self._armed.items() if armed[0] <= now]
                for key in due:
                    _deadline, conn, thread, allowed, what = self._armed.pop(key)
                    self._fired[thread] = (allowed, what)
                    _shut_socket(conn)
                wait = min((armed[0] for armed in self._armed.values()), default=now + 60) - now
                self._cond.wait(timeout=max(wait, 0.05))


def _shut_socket(dbapi_conn) -> None:
    """Make a blocked read or write on the connection fail at once."""
    import socket

    try:
        fd = os.dup(_driver(dbapi_conn).pgconn.socket)
    except Exception:  # noqa: BLE001 - already closed: nothing is waiting on it
        return
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        os.close(fd)
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


WATCHDOG = Watchdog()


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


# --- Customer text search -------------------------------------------------------------
#
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
