"""A PostgreSQL server that stops answering (issue 17, finding 5): every connection carries a
statement timeout, an idle-in-transaction timeout and TCP keepalives; a save the server does not
answer fails within seconds with one clear message, and is never committed later."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from sqlalchemy import event, text

from crm_tui import engines, engines_pg
from crm_tui.db import Database
from crm_tui.errors import DatabaseError
from crm_tui.services import Services


@pytest.fixture
def pg(pg_db_url):
    db = Database.open(pg_db_url)
    yield db
    db.close()


def stored_name(url: str, customer_id: int) -> tuple[str, int]:
    """Read through a connection of its own (not the one that was given up on)."""
    other = Database.open(url)
    try:
        with other.read() as session:
            row = session.execute(text("select name, version from customer where id = :i"), {"i": customer_id}).one()
            return row[0], row[1]
    finally:
        other.close()


def test_every_connection_has_timeouts_and_keepalives(pg, pg_db_url):
    with pg.read() as session:
        conn = session.connection()
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == f"{engines.STATEMENT_TIMEOUT_S}s"
        assert conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar() == "1min"
        info = conn.connection.dbapi_connection.info
        params = info.get_parameters()
        assert params.get("keepalives") == "1" and params.get("keepalives_idle") == "10"
        assert params.get("tcp_user_timeout") == str(engines.TCP_USER_TIMEOUT_MS)


def test_a_save_to_a_frozen_server_fails_within_15_s_and_never_commits_later(pg, pg_db_url):
    services = Services(pg, user="ann")
    acme = services.create_customer(name="Acme")
    frozen: list[int] = []

    @event.listens_for(pg.engine, "before_cursor_execute")
    def freeze(conn, cursor, statement, params, context, many):
        if statement.lstrip().upper().startswith("UPDATE CUSTOMER") and not frozen:
            pid = cursor.connection.info.backend_pid
            try:
                os.kill(pid, signal.SIGSTOP)  # the server process stops answering mid-save
            except PermissionError:
                pytest.skip("the PostgreSQL server runs as another user; cannot freeze it")
            frozen.append(pid)

    outcome: dict = {}

    def save():
        started = time.monotonic()
        try:
            services.update_customer(acme.id, expected_version=acme.version, name="Acme renamed")
        except DatabaseError as exc:
            outcome["error"] = exc.message
        outcome["took"] = time.monotonic() - started

    worker = threading.Thread(target=save)
    worker.start()
    try:
        worker.join(timeout=30)
        assert not worker.is_alive(), "the save is still waiting for the frozen server"
    finally:
        event.remove(pg.engine, "before_cursor_execute", freeze)
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert frozen, "the save never reached the server"
    assert outcome["took"] < 15, outcome
    message = outcome["error"]
    assert "did not answer within" in message and "nothing was changed" in message
    assert "\n" not in message
    time.sleep(2)  # the server runs again: the abandoned save must not commit now
    assert stored_name(pg_db_url, acme.id) == ("Acme", acme.version)
    services.update_customer(acme.id, expected_version=acme.version, name="Acme again")  # the app works on
    assert stored_name(pg_db_url, acme.id)[0] == "Acme again"


def test_a_save_stuck_behind_another_sessions_lock_gives_a_clear_message(pg_db_url, monkeypatch):
    # engines_pg reads the limit (the server's statement_timeout, the client's watchdog); db's
    # message reads it through engines, which re-exports it
    monkeypatch.setattr(engines_pg, "STATEMENT_TIMEOUT_S", 1)
    monkeypatch.setattr(engines, "STATEMENT_TIMEOUT_S", 1)
    db = Database.open(pg_db_url)
    try:
        services = Services(db, user="ann")
        acme = services.create_customer(name="Acme")
        with db.engine.connect() as other:  # holds the row lock and does not let go
            other.exec_driver_sql("SET statement_timeout = 0")
            other.execute(text("select id from customer where id = :i for update"), {"i": acme.id})
            started = time.monotonic()
            with pytest.raises(DatabaseError) as caught:
                services.update_customer(acme.id, expected_version=acme.version, name="Acme renamed")
            assert time.monotonic() - started < 5
            other.rollback()
        assert "did not finish within 1 s" in caught.value.message
    finally:
        db.close()
