"""Nothing a command writes (export, rejected rows, backup, copy) lands on the open database, its
side files or another SQLite file unless forced (issue 17, finding 1): compared by inode and real
path, not by the string typed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crm_tui import safety
from crm_tui.db import Database

REPO = Path(__file__).resolve().parents[2]


def crm(*args, stdout=subprocess.PIPE):
    return subprocess.run(
        [sys.executable, "-m", "crm_tui", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def one_line_refusal(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crm-tui: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def filled(tmp_path):
    """A database with three customers, and its file's bytes (to prove nothing changed)."""
    path = tmp_path / "crm.sqlite3"
    db = Database.open(str(path))
    from crm_tui.services import Services

    services = Services(db, user="ann")
    for name in ("Acme", "Globex", "Initech"):
        services.create_customer(name=name)
    db.close()
    return path


def intact(path: Path) -> bool:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        ok = con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return ok and con.execute("select count(*) from customer").fetchone()[0] == 3
    finally:
        con.close()


def aliases(path: Path, tmp_path: Path) -> dict[str, Path]:
    """Other names of the same file: a hard link, a symlink, a path through '..'."""
    (tmp_path / "sub").mkdir()
    hard = tmp_path / "hard.csv"
    os.link(path, hard)
    soft = tmp_path / "soft.csv"
    soft.symlink_to(path)
    return {"same path": path, "hard link": hard, "symlink": soft, "dotdot": tmp_path / "sub" / ".." / path.name}


def test_export_over_the_database_is_refused_under_any_name(filled, tmp_path):
    for label, target in aliases(filled, tmp_path).items():
        for extra in ((), ("--force",)):  # not even --force writes over the open database
            p = crm("--db", str(filled), "export", "customers", "-o", str(target), *extra)
            one_line_refusal(p, "is the open database", "choose another file")
            assert intact(filled), label


def test_export_over_the_side_files_is_refused(filled):
    for suffix in ("-wal", "-shm", "-journal"):
        target = Path(f"{filled}{suffix}")
        p = crm("--db", str(filled), "export", "customers", "-o", str(target), "--force")
        one_line_refusal(p, "is the open database's")
        assert intact(filled)


def test_another_sqlite_file_needs_force(filled, tmp_path):
    other = tmp_path / "other.sqlite3"
    con = sqlite3.connect(other)
    con.execute("create table t(x)")
    con.commit()
    con.close()
    disguised = tmp_path / "customers.csv"
    other.rename(disguised)
    p = crm("--db", str(filled), "export", "customers", "-o", str(disguised))
    one_line_refusal(p, "is a SQLite database", "--force")
    assert safety.sqlite_kind(disguised) == "database"
    p = crm("--db", str(filled), "export", "customers", "-o", str(disguised), "--force")
    assert p.returncode == 0, p.stderr
    assert disguised.read_text().startswith("external_id,name,")


def test_export_appended_to_the_database_by_the_shell_is_refused(filled):
    size = filled.stat().st_size
    with open(filled, "a") as out:
        p = crm("--db", str(filled), "export", "customers", stdout=out)
    one_line_refusal(p, "is the open database")
    assert filled.stat().st_size == size and intact(filled)


def test_rejected_rows_never_go_over_the_database(filled, tmp_path):
    source = tmp_path / "leads.csv"
    source.write_text("name,email\nNew one,new@example.com\nBad,not-an-email\n")
    for target in (filled, Path(f"{filled}-wal")):
        p = crm("--db", str(filled), "import", "customers", str(source), "--errors", str(target), "--force")
        one_line_refusal(p, "is the open database", "rejected rows")
    assert intact(filled)  # refused before anything was imported: still three customers


def test_backup_onto_the_write_ahead_log_is_refused(filled):
    p = crm("--db", str(filled), "backup", f"{filled}-wal")
    one_line_refusal(p, "write-ahead log", "backup")
    assert intact(filled)


def test_copy_into_the_source_under_another_name_is_refused(filled, tmp_path):
    hard = tmp_path / "hard.sqlite3"
    os.link(filled, hard)
    p = crm("copy", "--from", str(filled), "--to", str(hard))
    one_line_refusal(p, "same database")
    p = crm("copy", "--from", str(filled), "--to", f"{filled}-wal")
    one_line_refusal(p, "write-ahead log")
    assert intact(filled)


def test_export_api_refuses_too(filled):
    from crm_tui.errors import ValidationError
    from crm_tui.io import export_kind

    db = Database.open(str(filled))
    try:
        with pytest.raises(ValidationError, match="is the open database"):
            export_kind(db, "customers", filled, "xlsx", force=True)
    finally:
        db.close()
    assert intact(filled)


def test_header_decides_not_the_name(tmp_path):
    plain = tmp_path / "crm.sqlite3"
    plain.write_text("name\nAcme\n")
    assert safety.sqlite_kind(plain) == ""
    assert safety.output_refusal(plain) == ""
    assert safety.sqlite_kind(tmp_path / "missing") == ""
