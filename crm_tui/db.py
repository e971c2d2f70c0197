"""Opening the database, transactions, schema upgrades and change announcements.

``Database.write(tables)`` is the only way the core writes: it begins an
IMMEDIATE transaction, records a ``change_log`` row naming the tables touched,
commits, then tells every listener. Other processes notice the same change by
polling ``poll_changes()`` (one indexed ``max(id)`` read).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlmodel import Session

from crm_tui import engines
from crm_tui.errors import DatabaseError
from crm_tui.models import ChangeLog

ENV_VAR = "CRM_TUI_DB"
DB_FILENAME = "crm.sqlite3"


def default_db_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("crm-tui", appauthor=False)) / DB_FILENAME


def resolve_db(arg: str | None) -> str:
    """``--db`` if given, else ``$CRM_TUI_DB``, else the per-user default file."""
    value = arg or os.environ.get(ENV_VAR) or str(default_db_path())
    return value


def to_url(value: str) -> URL:
    """A path or an SQLAlchemy URL → URL, with a clear error for nonsense."""
    if "://" not in value:
        path = Path(value).expanduser()
        return URL.create("sqlite", database=str(path.absolute()))
    try:
        return make_url(value)
    except sa_exc.ArgumentError:
        raise DatabaseError(
            f"'{value}' is not a database path or URL; give a file path or a URL such as "
            "sqlite:///crm.sqlite3 or postgresql+psycopg://user@host/dbname"
        ) from None


@dataclass(frozen=True)
class Change:
    """Tables changed by one or more commits; ``remote`` when another process did it."""

    tables: frozenset[str]
    remote: bool = False


Listener = Callable[[Change], None]


@dataclass
class Database:
    url: URL
    engine: object = field(repr=False, default=None)
    _listeners: list[Listener] = field(default_factory=list, repr=False)
    _own_changes: set[int] = field(default_factory=set, repr=False)
    _last_seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Set when an existing database file or its folder is open to other users (see crm_tui.safety).
    permission_warning: str = ""
    _file_id: tuple[int, int] | None = field(default=None, repr=False)
    #: PostgreSQL: the rep's login when it belongs to a team role (``engines.team_login``); then it
    #: is who acts, whatever name the settings give
    login: str | None = None
    #: what readers worked out from this database, with the state it held for (e.g. the segments,
    #: ``metrics.segments``): kept per open database, so another file never answers for it
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- opening --------------------------------------------------------------

    @classmethod
    def open(cls, value: str | None = None, *, upgrade: bool = True, must_exist: bool = False) -> Database:
        """Open (creating if needed, unless ``must_exist``) the database named by a path or URL.

        ``must_exist`` is for commands that only read or copy out: a mistyped path is refused
        instead of answered from a new empty database."""
        url = to_url(resolve_db(value))
        path = engines.sqlite_path(url)
        existed = path is not None and path.exists()
        if must_exist and path is not None and not existed:
            raise DatabaseError(
                f"there is no database at {path}; check --db or CRM_TUI_DB (opening the app creates one)"
            )
        if path is not None and not engines.sqlite_read_only(url):
            if path.is_dir():
                raise DatabaseError(f"{path} is a folder, not a database file; pass a file path with --db")
            try:
                engines.prepare_private_file(path)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the database {path}: {exc.strerror or exc}; "
                    "choose a writable location with --db or CRM_TUI_DB"
                ) from None
        try:
            engine = _create_engine(url)
        except (sa_exc.NoSuchModuleError, sa_exc.ArgumentError, ImportError) as exc:
            raise DatabaseError(
                f"cannot use database URL '{url.render_as_string(hide_password=True)}': {exc}; "
                "supported are sqlite:///PATH and postgresql+psycopg://user@host/dbname"
            ) from None
        db = cls(url=url, engine=engine)
        if path is not None:
            from crm_tui import safety

            db.permission_warning = safety.permission_warning(path) if existed else ""
            db._file_id = _file_identity(path)
            for folder in (path.parent, path.parent / "backups"):  # copies a killed backup left
                engines.clean_partials(folder)
        from crm_tui import migrations

        with db.translate_errors():
            migrations.ensure_schema(db, upgrade=upgrade)
            db._last_seen = db.latest_change_id()
            if path is None:
                with engine.connect() as conn:
                    db.login = engines.team_login(conn)
        return db

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    @property
    def path(self) -> Path | None:
        return engines.sqlite_path(self.url)

    @property
    def dialect(self):
        return self.engine.dialect

    # -- sessions -------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.translate_errors(), self.engine.connect() as conn:
            conn.execution_options(**engines.read_options(self.dialect))
            # Closing (not rolling back) keeps loaded objects readable after the block.
            with Session(bind=conn, expire_on_commit=False) as session:
                yield session

    @contextmanager
    def write(
        self, tables: Iterable[str], *, keep: bool = True, journal: bool = True, connection=None
    ) -> Iterator[Session]:
        """A write transaction; on commit, announce ``tables`` (and every table it changed) as changed.

        Every row the session's ORM flushes is journaled (``crm_tui.journal``) in the same
        transaction, under the action the service declared; ``journal=False`` only for the
        schema's own upgrades. With ``keep=False`` it is a rehearsal: every lock, statement and
        change-log row of the real thing, then rolled back and announced to nobody (dry runs;
        compiling a write's statements before a user waits on them). ``connection``: run it on
        this connection (not in a transaction) instead of a pooled one — an import's merge
        reads the staging tables that only its own connection sees."""
        from crm_tui import journal as jr
        from crm_tui import kept

        names = set(tables)
        with self.translate_errors(), _own_or(connection, self.engine) as conn:
            conn.execution_options(crm_write=True)
            try:
                with Session(bind=conn, expire_on_commit=False) as session:
                    if journal:
                        jr.capture(session)
                    yield session
                    self.check_file()
                    session.flush()  # take every row lock before the change-log lock
                    if journal:
                        kept.settle(session.connection())  # a stage's order changed: the funnel's reach
                        changes = jr.captured(session)
                        if jr.write_entry(session, jr.declared(session), changes) is not None:
                            names |= {c.table for c in changes} | jr.bulk_tables(session) | {"journal"}
                    conn_ = session.connection()
                    engines.order_change_log(conn_)
                    change_id = (conn_.execute(select(func.max(ChangeLog.id))).scalar() or 0) + 1
                    session.add(ChangeLog(id=change_id, tables=",".join(sorted(names))))
                    if not keep:
                        session.flush()
                        session.rollback()
                        return
                    session.commit()
            finally:
                if connection is not None:
                    conn.execution_options(crm_write=False)
        with self._lock:
            self._own_changes.add(change_id)
        self._announce(Change(frozenset(names)))

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _announce(self, change: Change) -> None:
        for listener in list(self._listeners):
            listener(change)

    # -- other processes ------------------------------------------------------

    def latest_change_id(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(ChangeLog.id))).scalar() or 0

    def check_file(self) -> None:
        """Refuse to go on when the database file was deleted, moved or replaced while
        open: writes would land in the vanished file and be lost when crm-tui exits."""
        if self._file_id is None:
            return
        if _file_identity(self.path) != self._file_id:
            raise DatabaseError(
                f"the database file {self.path} was deleted, moved or replaced while crm-tui was running; "
                "nothing more can be saved to it; put the file back or restart crm-tui"
            )

    def poll_changes(self) -> Change | None:
        """Changes committed by *other* processes since the last poll, if any."""
        self.check_file()
        with self.translate_errors(), self.engine.connect() as conn:
            rows = conn.execute(select(ChangeLog.id, ChangeLog.tables).where(ChangeLog.id > self._last_seen)).all()
            conn.rollback()
        if not rows:
            return None
        tables: set[str] = set()
        with self._lock:
            for change_id, names in rows:
                self._last_seen = max(self._last_seen, change_id)
                if change_id in self._own_changes:
                    self._own_changes.discard(change_id)
                    continue
                tables.update(n for n in names.split(",") if n)
        if not tables:
            return None
        change = Change(frozenset(tables), remote=True)
        self._announce(change)
        return change

    # -- errors ---------------------------------------------------------------

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Turn driver errors a user can cause into one clear ``DatabaseError``."""
        try:
            yield
        except sa_exc.ProgrammingError as exc:
            if _sqlstate(exc) == "42501":  # insufficient privilege: the team's rules, not a bug
                raise _not_allowed(exc, self) from None
            raise  # our bug, not the user's: keep the traceback
        except sa_exc.IntegrityError:
            raise  # our bug, not the user's: keep the traceback
        except (sa_exc.DatabaseError, sa_exc.InterfaceError) as exc:  # locked, corrupt, disk full, server gone...
            raise _user_error(exc, self.url) from None


def _sqlstate(exc: Exception) -> str | None:
    return getattr(getattr(exc, "orig", exc), "sqlstate", None)


#: table → what a message calls its rows
_TABLE_WORDS = {
    "deal": "deals",
    "deal_product": "deal lines",
    "stage_change": "deal moves",
    "task": "tasks",
    "note": "notes",
    "sales_order": "orders",
    "order_line": "order lines",
    "journal": "the journal",
    "journal_change": "the journal",
    "pipeline": "pipelines",
    "stage": "stages",
    "stage_task_template": "stage tasks",
    "product": "products",
    "currency_rate": "exchange rates",
    "goal": "goals",
    "crm_meta": "the database's settings",
    "customer": "customers",
    "contact": "contacts",
}


def _not_allowed(exc: Exception, db: Database) -> DatabaseError:
    """The server refused a change the login's team role does not allow: say what and why."""
    import re

    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    found = re.search(r'(?:table|relation) "?(\w+)"?', text)
    what = _TABLE_WORDS.get(found.group(1), found.group(1)) if found else "this"
    who = db.login or db.url.username or "this login"
    if "row-level security" in text:
        return DatabaseError(
            f"not allowed: {who} may change only their own {what} (a manager may change anyone's); nothing was changed"
        )
    return DatabaseError(f"not allowed: {who}'s role may not change {what} (ask a manager); nothing was changed")


def describe(url: URL) -> str:
    """How a message names the database: a SQLite file by its path, a server by its URL
    (without the password)."""
    path = engines.sqlite_path(url)
    return str(path) if path is not None else url.render_as_string(hide_password=True)


def _user_error(exc: Exception, url: URL) -> DatabaseError:
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    where = describe(url)
    low = text.lower()
    pg = _postgresql_error(text, low, url)
    if pg is not None:
        return pg
    if "locked" in low or "busy" in low:
        return DatabaseError(
            f"the database {where} is locked by another program for more than "
            f"{engines.BUSY_TIMEOUT_S:g} s; close the other program or try again"
        )
    if "readonly" in low or "read-only" in low:
        return DatabaseError(f"the database {where} is read-only; check its file permissions")
    if "not a database" in low or "malformed" in low:
        return DatabaseError(
            f"{where} is not a valid crm-tui database ({text}); restore a backup or choose another --db"
        )
    if "disk is full" in low or "disk i/o" in low:
        return DatabaseError(f"cannot write to {where}: {text}; free some disk space and try again")
    if "unable to open" in low:
        return DatabaseError(f"cannot open the database {where}; check the path and its permissions")
    return DatabaseError(f"database error on {where}: {text}")


def _postgresql_error(text: str, low: str, url: URL) -> DatabaseError | None:
    """Clear messages for what goes wrong with a database server."""
    if url.get_backend_name() != "postgresql":
        return None
    server = f"{url.host or 'localhost'}:{url.port or 5432}"
    gave_up = engines.WATCHDOG.take_timeout()
    if gave_up is not None:
        seconds, what = gave_up
        if what == "commit":
            return DatabaseError(
                f"the PostgreSQL server at {server} did not confirm the save within {seconds:g} s; it may or may "
                "not have been saved: look again once the server answers"
            )
        return DatabaseError(
            f"the PostgreSQL server at {server} did not answer within {seconds:g} s; nothing was changed; "
            "check that the server is running, then try again"
        )
    if "statement timeout" in low:
        return DatabaseError(
            f"the PostgreSQL server at {server} did not finish within {engines.STATEMENT_TIMEOUT_S:g} s "
            "(another session may be holding the same records); nothing was changed; try again"
        )
    if "ssl" in low and any(k in low for k in ("not support", "unsupported", "ssl was required", "rejected")):
        return DatabaseError(
            f"the PostgreSQL server at {server} does not accept encrypted (TLS) connections, which crm-tui "
            "requires for a server on another machine; turn on ssl in the server's postgresql.conf, or add "
            "?sslmode=disable to the URL only if the network between you and the server is trusted"
        )
    if "password authentication failed" in low or "no password supplied" in low:
        return DatabaseError(
            f"password authentication failed for user {url.username or '(default)'} on {server}; "
            "check the password in the URL or ~/.pgpass"
        )
    if "database" in low and "does not exist" in low:
        return DatabaseError(
            f"the database '{url.database}' does not exist on {server}; create it (createdb {url.database}) "
            "or fix the name in the URL"
        )
    if "role" in low and "does not exist" in low:
        return DatabaseError(f"the user {url.username} does not exist on {server}; create it or fix the URL")
    if "permission denied" in low:
        return DatabaseError(f"permission denied on {server}: {text}; ask the database owner to grant access")
    if "deadlock" in low or "could not serialize" in low:
        return DatabaseError("another session changed the same records at the same moment; try again")
    if (
        (
            "connection" in low
            and any(k in low for k in ("refused", "failed", "timeout", "timed out", "closed", "terminat", "lost"))
        )
        or "server closed" in low
        or "could not translate host" in low
        or "name or service not known" in low
    ):
        detail = text.rsplit(" failed: ", 1)[-1].replace("FATAL:", "").strip()
        return DatabaseError(
            f"cannot connect to the PostgreSQL server at {server}: {detail}; check it is running and the URL"
        )
    return None


def _own_or(connection, engine):
    """``connection`` as a context that leaves it open, else a new pooled connection."""
    from contextlib import nullcontext

    return nullcontext(connection) if connection is not None else engine.connect()


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _create_engine(url: URL):
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": engines.BUSY_TIMEOUT_S})
        engines.configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True, connect_args=engines.postgresql_connect_args(url))
    engines.configure_postgresql(engine)
    return engine
