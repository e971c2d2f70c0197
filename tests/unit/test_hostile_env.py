"""A hostile environment: read-only files, a full disk, the folder deleted while
running, a lock held too long, a corrupt file. Each gives one clear message,
no traceback, and no further damage; the CLI exits 2 with one stderr line."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from crm_tui.db import Database
from crm_tui.errors import DatabaseError
from crm_tui.models import ChangeLog, Customer, Note
from crm_tui.services import Services

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def count(db, model) -> int:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(model)).scalar()


@pytest.fixture
def filled(tmp_path):
    """A closed database with 300 customers (several pages of each table)."""
    path = tmp_path / "crm.sqlite3"
    db = Database.open(str(path))
    s = Services(db, user="ann")
    with db.write({"customer"}) as session:
        session.add_all(Customer(name=f"Customer {i:03d}", name_key=f"customer{i:03d}") for i in range(300))
    s.add_note("first note", customer_id=1)
    db.close()
    assert not Path(f"{path}-wal").exists()  # checkpointed into the main file
    return path


# -- read-only ----------------------------------------------------------------------------------


def test_read_only_uri_reads_and_refuses_writes_clearly(filled):
    before = digest(filled)
    db = Database.open(f"sqlite:///file:{filled}?mode=ro&uri=true")
    try:
        assert db.path == filled
        assert count(db, Customer) == 300
        with pytest.raises(DatabaseError, match="is read-only; check its file permissions"):
            Services(db, user="ann").create_customer(name="Not saved")
    finally:
        db.close()
    assert digest(filled) == before
    assert not Path("file:").exists()  # no stray folder named after the URI


@pytest.mark.skipif(IS_ROOT, reason="root writes through chmod 0400; the read-only URI test covers this case")
def test_chmod_0400_database_refuses_writes_clearly(filled):
    os.chmod(filled, 0o400)
    before = digest(filled)
    try:
        db = Database.open(str(filled))
        try:
            with pytest.raises(DatabaseError, match="read-only"):
                Services(db, user="ann").create_customer(name="Not saved")
        finally:
            db.close()
    except DatabaseError as exc:  # refusing at open is as good
        assert "read-only" in exc.message or "cannot open" in exc.message
    assert digest(filled) == before


# -- disk full ----------------------------------------------------------------------------------


def test_disk_full_is_one_clear_error_and_writes_nothing(filled):
    db = Database.open(str(filled))
    db.engine.dispose()  # new connections get the tiny size limit below

    @event.listens_for(db.engine, "connect")
    def _tiny_disk(dbapi_conn, _record):
        pages = dbapi_conn.execute("pragma page_count").fetchone()[0]
        dbapi_conn.execute(f"pragma max_page_count = {pages + 2}")

    s = Services(db, user="ann")
    notes, changes = count(db, Note), count(db, ChangeLog)
    big = "x" * 19_000
    with pytest.raises(DatabaseError) as err:
        for _ in range(20):
            s.add_note(big, customer_id=1)
    assert err.value.message.startswith("cannot write to ") and "free some disk space" in err.value.message
    assert "\n" not in err.value.message
    added = count(db, Note) - notes
    assert count(db, ChangeLog) - changes == added  # the failed write left no half of itself
    db.close()
    raw = sqlite3.connect(filled)
    assert raw.execute("pragma integrity_check").fetchone() == ("ok",)
    raw.close()


# -- the file vanishes or is replaced while open ----------------------------------------------------


def test_folder_deleted_while_running_refuses_writes_instead_of_losing_them(tmp_path):
    folder = tmp_path / "data"
    db = Database.open(str(folder / "crm.sqlite3"))
    s = Services(db, user="ann")
    s.create_customer(name="Saved")
    shutil.rmtree(folder)
    with pytest.raises(DatabaseError, match="was deleted, moved or replaced while crm-tui was running"):
        s.create_customer(name="Would vanish")
    with pytest.raises(DatabaseError, match="was deleted"):
        db.poll_changes()  # a session that only reads learns it on its next poll
    db.close()
    assert not folder.exists()  # nothing recreated behind the user's back


def test_file_replaced_while_running_is_detected(filled, tmp_path):
    db = Database.open(str(filled))
    s = Services(db, user="ann")
    s.create_customer(name="Before the swap")
    copy = tmp_path / "restored.sqlite3"
    shutil.copy(filled, copy)
    os.replace(copy, filled)  # e.g. a backup restored over it from another shell
    with pytest.raises(DatabaseError, match="replaced"):
        s.create_customer(name="Would land in the old file")
    db.close()


# -- corrupt files ------------------------------------------------------------------------------------


def _corrupt_pages(path: Path, table: str = "customer") -> None:
    raw = sqlite3.connect(path)
    root = raw.execute("select rootpage from sqlite_master where name=?", (table,)).fetchone()[0]
    page = raw.execute("pragma page_size").fetchone()[0]
    raw.close()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(os.urandom(page))


@pytest.mark.parametrize("damage", ["overwritten", "truncated"])
def test_corrupt_file_gives_a_clear_error_and_is_not_further_damaged(filled, damage):
    if damage == "overwritten":
        _corrupt_pages(filled)
    else:
        with open(filled, "r+b") as fh:
            fh.truncate(os.path.getsize(filled) // 2)
    before = digest(filled)
    with pytest.raises(DatabaseError) as err:
        db = Database.open(str(filled))
        try:
            count(db, Customer)
            Services(db, user="ann").create_customer(name="On a broken file")
        finally:
            db.close()
    assert "not a valid crm-tui database" in err.value.message and "restore a backup" in err.value.message
    assert digest(filled) == before


# -- the CLI: exit 2 and exactly one line ----------------------------------------------------------------


def _newer(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.execute("update crm_meta set value='99' where key='schema_version'")
    raw.commit()
    raw.close()


def _cases(filled: Path, tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    corrupt = tmp_path / "corrupt.sqlite3"
    shutil.copy(filled, corrupt)
    _corrupt_pages(corrupt, "crm_meta")
    newer = tmp_path / "newer.sqlite3"
    shutil.copy(filled, newer)
    _newer(newer)
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"\x00\x01 not sqlite " * 500)
    cases = {
        "corrupt": (["backup", "--db", str(corrupt)], "not a valid crm-tui database"),
        "newer": (["report", "--db", str(newer)], "newer crm-tui"),
        "garbage": (["backup", "--db", str(garbage)], "not a valid crm-tui database"),
        "folder": (["backup", "--db", str(tmp_path)], "is a folder"),
        # the demo refuses to write into a file that holds data; either way, one line
        "read-only": (["demo", "--no-open", "--size", "1", "--db", f"sqlite:///file:{filled}?mode=ro&uri=true"], ""),
    }
    if not IS_ROOT:
        cases["unwritable"] = (["backup", "--db", "/proc/crm-tui-test/crm.sqlite3"], "cannot create the database")
    return cases


def _assert_one_line(name: str, code: int, err: str, expected: str) -> None:
    lines = err.splitlines()
    assert code == 2, f"{name}: exit {code}\n{err}"
    assert len(lines) == 1 and lines[0].startswith("crm-tui: error: "), f"{name}: {err}"
    assert expected in lines[0], f"{name}: {lines[0]}"


def test_cli_gives_exit_2_and_one_line_for_each_hostile_environment(filled, tmp_path, capsys, monkeypatch):
    from crm_tui import cli, engines

    before = digest(filled)
    for name, (argv, expected) in _cases(filled, tmp_path).items():
        code = cli.main(argv)
        _assert_one_line(name, code, capsys.readouterr().err, expected)
    monkeypatch.setattr(engines, "BUSY_TIMEOUT_S", 0.3)
    locked = tmp_path / "locked" / "crm.sqlite3"
    Database.open(str(locked)).close()
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute("begin immediate")  # another program holds the write lock
    try:
        code = cli.main(["demo", "--no-open", "--size", "1", "--db", str(locked)])
    finally:
        holder.execute("rollback")
        holder.close()
    _assert_one_line("locked", code, capsys.readouterr().err, "is locked by another program for more than 0.3 s")
    assert digest(filled) == before  # the read-only target is untouched
    assert not Path("file:").exists() and not (tmp_path / "file:").exists()


def test_cli_subprocess_exit_2_and_one_stderr_line(filled, tmp_path):
    """The real console entry point, as a user runs it (two cases, run side by side)."""
    cases = {k: v for k, v in _cases(filled, tmp_path).items() if k in ("corrupt", "folder")}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "crm_tui", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        for name, (argv, _) in cases.items()
    }
    for name, proc in procs.items():
        _out, err = proc.communicate(timeout=60)
        _assert_one_line(name, proc.returncode, err, cases[name][1])
