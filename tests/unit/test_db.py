"""The database layer: files private by default, WAL and durability, schema
versions, clear errors, and changes seen across processes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from crm_tui.db import Database, resolve_db
from crm_tui.errors import DatabaseError
from crm_tui.migrations import SCHEMA_VERSION


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_database_is_private(tmp_path):
    path = tmp_path / "new" / "deeper" / "crm.sqlite3"
    Database.open(str(path)).close()
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


@pytest.mark.sqlite_only
def test_pragmas_wal_foreign_keys_busy_timeout(db):
    with db.read() as s:
        conn = s.connection()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_fresh_database_has_default_pipeline_and_version(db_path, db):
    raw = sqlite3.connect(db_path)
    assert raw.execute("select value from crm_meta where key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    stages = raw.execute("select name, probability, outcome from stage order by position").fetchall()
    assert stages == [
        ("Lead", 10, "open"),
        ("Qualified", 25, "open"),
        ("Proposal", 50, "open"),
        ("Negotiation", 75, "open"),
        ("Won", 100, "won"),
        ("Lost", 0, "lost"),
    ]
    raw.close()


def test_reopening_does_not_duplicate_the_pipeline(db_path, db):
    Database.open(str(db_path)).close()
    raw = sqlite3.connect(db_path)
    assert raw.execute("select count(*) from pipeline").fetchone() == (1,)
    raw.close()


def test_newer_schema_is_refused_and_left_untouched(db_path, db):
    raw = sqlite3.connect(db_path)
    raw.execute("update crm_meta set value='999' where key='schema_version'")
    raw.commit()
    raw.close()
    before = db_path.read_bytes()
    with pytest.raises(DatabaseError, match="newer crm-tui .schema 999"):
        Database.open(str(db_path))
    assert db_path.read_bytes() == before


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("create table stuff (x)")
    raw.commit()
    raw.close()
    with pytest.raises(DatabaseError, match="not made by crm-tui"):
        Database.open(str(path))


def test_garbage_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(DatabaseError, match="not a valid crm-tui database"):
        Database.open(str(path))


def test_bad_url_and_folder(tmp_path):
    with pytest.raises(DatabaseError, match="cannot use database URL"):
        Database.open("nosuchengine://x/y")
    with pytest.raises(DatabaseError, match="is a folder"):
        Database.open(str(tmp_path))


def test_resolve_order(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_TUI_DB", str(tmp_path / "env.sqlite3"))
    assert resolve_db("cli.sqlite3") == "cli.sqlite3"
    assert resolve_db(None) == str(tmp_path / "env.sqlite3")
    monkeypatch.delenv("CRM_TUI_DB")
    assert resolve_db(None).endswith("crm.sqlite3")


def test_locked_database_gives_clear_error(db_path, db, monkeypatch):
    from crm_tui import engines
    from crm_tui.services import Services

    monkeypatch.setattr(engines, "BUSY_TIMEOUT_S", 0.2)
    second = Database.open(str(db_path))  # another session, with a short timeout
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseError, match="locked by another program for more than 0.2 s"):
            Services(second, user="x").create_customer(name="Blocked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        second.close()
    assert Services(db, user="x").create_customer(name="After").id == 1


def test_changes_from_another_process_are_noticed(db_path, db):
    seen = []
    db.subscribe(seen.append)
    script = textwrap.dedent(
        f"""
        from crm_tui.db import Database
        from crm_tui.services import Services
        Services(Database.open({str(db_path)!r}), user="bob").create_customer(name="From elsewhere")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    change = db.poll_changes()
    assert change is not None and change.remote and change.tables == {"customer", "journal"}
    assert seen == [change]
    assert db.poll_changes() is None  # reported once


def test_own_changes_are_not_reported_as_remote(db, services):
    services.create_customer(name="Mine")
    assert db.poll_changes() is None


def test_committed_change_survives_kill_9(db_path, db):
    """A writer killed right after its commit returned keeps that commit."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from crm_tui.db import Database
        from crm_tui.services import Services
        s = Services(Database.open({str(db_path)!r}), user="k")
        for i in range(20):
            s.create_customer(name=f"Committed {{i}}")
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9 and "committed" in proc.stdout
    raw = sqlite3.connect(db_path)
    assert raw.execute("pragma integrity_check").fetchone() == ("ok",)
    assert raw.execute("select count(*) from customer where name like 'Committed %'").fetchone() == (20,)
    raw.close()


@pytest.mark.sqlite_only
def test_backup_is_consistent_and_private(db, services, tmp_path):
    from crm_tui import engines

    services.create_customer(name="Backed up")
    dest = tmp_path / "b" / "copy.sqlite3"
    engines.backup_sqlite(db.path, dest)
    assert mode(dest) == 0o600
    raw = sqlite3.connect(dest)
    assert raw.execute("select name from customer").fetchall() == [("Backed up",)]
    raw.close()
