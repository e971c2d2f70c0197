"""On a team's PostgreSQL the rep is the session's login, not a name from the settings."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select
from sqlalchemy.engine import make_url

from crm_tui.config import acting_user, settings_path
from crm_tui.db import Database
from crm_tui.models import Deal, JournalEntry
from crm_tui.services import Services

GROUP_ROLES = ("crm_rep", "crm_manager", "crm_viewer")


def _ensure_groups(conn) -> None:
    for role in GROUP_ROLES:  # cluster-wide; several test workers may race to create them
        conn.execute(
            f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )


def make_login(pg_admin, db_url: str, group: str | None) -> str:
    """A new login (in ``group`` if given) allowed to use the database at ``db_url``; → its URL."""
    conn = pg_admin.conn
    _ensure_groups(conn)
    name = f"t_{uuid.uuid4().hex[:10]}"
    conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw-{name}'" + (f" IN ROLE {group}" if group else ""))
    database = make_url(db_url).database
    conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {name}')
    # table rights on the test database, given by its owner (the tests' superuser)
    import psycopg

    conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as owner:
        owner.execute(f"GRANT USAGE ON SCHEMA public TO {name}")
        owner.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}")
        owner.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {name}")
    return make_url(db_url).set(username=name, password=f"pw-{name}").render_as_string(hide_password=False)


def test_a_forged_settings_name_changes_nothing_on_a_team_server(pg_admin, pg_db_url, monkeypatch):
    url = make_login(pg_admin, pg_db_url, "crm_rep")
    login = make_url(url).username
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(json.dumps({"user": "the-manager"}))
    monkeypatch.setenv("CRM_TUI_USER", "the-manager")
    db = Database.open(url)
    try:
        assert db.login == login
        assert acting_user(db) == login
        services = Services(db, user="the-manager")  # even when asked by name
        assert services.user == login
        deal = services.create_deal("Rollout", customer_id=services.create_customer(name="Acme").id, amount=100)
        with db.read() as session:
            assert session.get(Deal, deal.id).owner == login
            assert set(session.execute(select(JournalEntry.who)).scalars()) == {login}
    finally:
        db.close()


def test_without_a_team_role_the_settings_name_stays(pg_admin, pg_db_url, monkeypatch):
    url = make_login(pg_admin, pg_db_url, None)  # a login shared by a team without roles
    monkeypatch.setenv("CRM_TUI_USER", "ann")
    db = Database.open(url)
    try:
        assert db.login is None
        assert Services(db).user == "ann"
    finally:
        db.close()


def test_sqlite_is_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_TUI_USER", "ann")
    db = Database.open(str(tmp_path / "crm.sqlite3"))
    try:
        assert db.login is None and Services(db).user == "ann" and Services(db, user="bob").user == "bob"
    finally:
        db.close()


def test_another_reps_deal_is_marked_as_theirs_on_a_team_server():
    from crm_tui.tui.screens.deal_detail import theirs_mark

    assert "theirs" in theirs_mark("ann", "bob")
    assert theirs_mark("ann", "ann") == ""
    assert theirs_mark(None, "bob") == ""  # SQLite or a shared login: no teams, no mark


def test_the_team_rules_cover_every_table():
    # a table added to the models without a place in crm_tui.team would be unreadable by the team
    from sqlmodel import SQLModel

    import crm_tui.models  # noqa: F401
    from crm_tui import team

    assert set(team.TABLES) == set(SQLModel.metadata.tables)
