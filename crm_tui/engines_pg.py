"""PostgreSQL connection and session settings: the connect arguments of every connection
(sessions in UTC, connect, statement and idle timeouts, TCP keepalives, TLS for another machine),
who a team rep is (``team_login``), and the client's own limit on a server that stops answering
(``configure_postgresql``, ``statement_limit``, ``long_statements``, the ``Watchdog``).

Every name here is re-exported by ``crm_tui.engines``, where callers find it.
"""

from __future__ import annotations

import os
import re
import threading
import time
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from crm_tui.engines_base import is_sqlite

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
