"""Fixtures every tier shares: a temp database, services on a frozen clock."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

UTC = dt.UTC
FROZEN_NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Never touch the developer's real settings or database."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CRM_TUI_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config-xdg"))
    monkeypatch.delenv("CRM_TUI_DB", raising=False)
    monkeypatch.setenv("CRM_TUI_USER", "tester")


@pytest.fixture(autouse=True)
def _utc_local_time(monkeypatch):
    """Screens and task groups use local time; pin it to UTC so no result depends on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True, scope="session")
def _css_parsed_once():
    """Every Pilot test starts a new app, and each app parses the same stylesheets again
    (~0.4 s of CPU of its ~1.4 s start): parse each once per worker instead.

    Textual keeps parsed rules per stylesheet, keyed on the CSS and where it came from, and
    drops them when the theme's variables change; this keeps them across apps under the same
    key plus those variables, so an app gets exactly the rules its own parse would give."""
    from textual.css.stylesheet import Stylesheet

    parse_rules = Stylesheet._parse_rules
    parsed: dict[tuple, list] = {}

    def shared(self, css, read_from, is_default_rules=False, tie_breaker=0, scope=""):
        key = (css, read_from, is_default_rules, tie_breaker, scope, tuple(sorted(self._variables.items())))
        rules = parsed.get(key)
        if rules is None:
            rules = parsed[key] = parse_rules(self, css, read_from, is_default_rules, tie_breaker, scope)
        return rules

    Stylesheet._parse_rules = shared
    yield
    Stylesheet._parse_rules = parse_rules


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "crm.sqlite3"


#: engines the shared ``db`` fixture runs on; CRM_TUI_TEST_ENGINES=sqlite runs SQLite only
DB_ENGINES = [e for e in os.environ.get("CRM_TUI_TEST_ENGINES", "sqlite,postgresql").split(",") if e]


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: the test checks SQLite itself (pragmas, files); no PostgreSQL run")
    config.addinivalue_line(
        "markers", "keys_only: the test is about keys and screens, which no engine changes; run on SQLite only"
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A new SQLite database, created and migrated once per worker; ``fresh_sqlite`` copies it.

    Creating the schema costs ~0.3 s (more under load) and most tests need only an empty,
    current database, so each gets a copy of this one (~10 ms) instead."""
    from crm_tui.db import Database

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    Database.open(str(path)).close()  # the last connection closed: the WAL is checkpointed into the file
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"the template left {leftovers} beside it: a copy of the file alone would miss them"
    return path


def fresh_sqlite(template, path):
    """``path`` made a copy of the migrated ``template``: a file 0600, as ``Database.open`` creates it."""
    import shutil

    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    os.close(fd)
    shutil.copyfile(template, path)
    return path


@pytest.fixture(scope="session")
def new_sqlite(sqlite_template):
    """``new_sqlite(path)``: ``path`` made a new, migrated SQLite database file (a copy of the
    template), for tests that want one file and no engine parameter (the snapshots);
    ``new_sqlite(path, source)`` copies ``source`` instead (a book built once)."""

    def make(path, source=None):
        return fresh_sqlite(sqlite_template if source is None else source, path)

    return make


@pytest.fixture(scope="session")
def clock_type():
    """The settable test clock's class, for session-scoped fixtures that cannot use ``clock``."""
    return Clock


def _copies_template(request) -> bool:
    """Whether the test's SQLite database may be a copy of the template: not when the test looks
    at the SQLite file or its settings itself (``db_path``, ``sqlite_only``), where creating the
    file is part of what it checks."""
    return "db_path" not in request.fixturenames and not request.node.get_closest_marker("sqlite_only")


@pytest.fixture(params=DB_ENGINES)
def db(request, tmp_path):
    """A fresh database on each engine. Tests that also use ``db_path`` look at the
    SQLite file itself, so their PostgreSQL variant is skipped."""
    from crm_tui.db import Database

    path = tmp_path / "crm.sqlite3"  # the file ``db_path`` names
    if request.param == "postgresql":
        if request.node.get_closest_marker("keys_only"):
            pytest.skip("keys and screens: the same on every engine (run on SQLite)")
        if not _copies_template(request):
            pytest.skip("SQLite-specific: this test inspects the SQLite file or its settings")
        database = Database.open(request.getfixturevalue("pg_db_url"))
    elif _copies_template(request):
        database = Database.open(str(fresh_sqlite(request.getfixturevalue("sqlite_template"), path)))
    else:
        database = Database.open(str(path))
    yield database
    database.close()


class Clock:
    """A settable clock: ``clock.now`` is returned; ``clock.advance(days=1)``."""

    def __init__(self, now: dt.datetime = FROZEN_NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> dt.datetime:
        self.now = self.now + dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def services(db, clock):
    from crm_tui.services import Services

    return Services(db, user="ann", clock=clock)


# -- PostgreSQL: one throwaway server per test session, one fresh database per test --------

_PG_STATE: dict = {}


def _load_pg_server():
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("crm_pg_server", Path(__file__).with_name("pg_server.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _pg_conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url():
    """URL of a PostgreSQL server (its ``postgres`` database) for this session.

    ``$CRM_TUI_TEST_PG_URL`` when set (CI: ``.ci/pg-setup``), else a private cluster
    started here; tests needing it skip, saying why, when neither is possible.
    """
    import os

    url = os.environ.get("CRM_TUI_TEST_PG_URL")
    if url:
        yield url
        return
    if "error" in _PG_STATE:
        pytest.skip(_PG_STATE["error"])
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _PG_STATE["error"] = "PostgreSQL tests need psycopg: pip install 'psycopg[binary]'"
        pytest.skip(_PG_STATE["error"])
    start_cluster = _load_pg_server().start_cluster

    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        _PG_STATE["error"] = f"no PostgreSQL server for the tests: {exc}"
        pytest.skip(_PG_STATE["error"])
    yield cluster.url
    cluster.stop()


@pytest.fixture(scope="session")
def pg_admin(pg_url):
    """Creates fresh migrated databases quickly by cloning a template made once per worker."""
    import itertools
    import os

    import psycopg

    from crm_tui.db import Database

    conn = psycopg.connect(_pg_conninfo(pg_url), autocommit=True)
    prefix = f"crmt_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    template = f"{prefix}_tpl"
    conn.execute(f'DROP DATABASE IF EXISTS "{template}"')
    conn.execute(f'CREATE DATABASE "{template}"')
    Database.open(_pg_db_url(pg_url, template)).close()
    counter = itertools.count(1)
    created: list[str] = []

    def create(*, empty: bool = False) -> str:
        name = f"{prefix}_{next(counter)}"
        source = "template0" if empty else f'"{template}"'
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {source} STRATEGY FILE_COPY')
        created.append(name)
        return _pg_db_url(pg_url, name)

    def drop(url: str) -> None:
        from sqlalchemy.engine import make_url

        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    yield type("PgAdmin", (), {"create": staticmethod(create), "drop": staticmethod(drop), "conn": conn})
    for name in created + [template]:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _pg_db_url(server_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def pg_db_url(pg_admin):
    """URL of a fresh, migrated, private PostgreSQL database for one test."""
    url = pg_admin.create()
    yield url
    pg_admin.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path):
    """A freshly created database on each engine (the same schema and default pipeline)."""
    from crm_tui.db import Database

    if request.param == "sqlite":
        path = tmp_path / "any.sqlite3"
        if _copies_template(request):
            fresh_sqlite(request.getfixturevalue("sqlite_template"), path)
        database = Database.open(str(path))
    else:
        database = Database.open(request.getfixturevalue("pg_db_url"))
    yield database
    database.close()
