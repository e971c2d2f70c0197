"""Minor holes (issue 17, finding 9): copies a killed backup or upgrade left are cleaned and an
upgrade keeps one copy per version; a CSV's columns and cells are capped with a clear message;
messages name a SQLite database by its path, not as ``sqlite:////…``."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from crm_tui import migrations
from crm_tui.db import Database
from crm_tui.errors import ValidationError
from crm_tui.io import import_file
from crm_tui.io.readers import MAX_CELL_CHARS, MAX_COLUMNS

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "schema"


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_copies_a_killed_backup_left_are_cleaned_on_the_next_start(tmp_path):
    (tmp_path / "backups").mkdir()
    gone = dead_pid()
    leftovers = [
        tmp_path / f".crm.v2.bak.sqlite3.{gone}.partial",
        tmp_path / f".crm.v2.bak.sqlite3.{gone}.partial-journal",
        tmp_path / "backups" / f".crm-20260101-120000.sqlite3.{gone}.partial",
    ]
    running = tmp_path / f".other.sqlite3.{os.getppid()}.partial"  # its process still runs
    for path in [*leftovers, running]:
        path.write_bytes(b"half a copy")
    Database.open(str(tmp_path / "crm.sqlite3")).close()
    assert not any(p.exists() for p in leftovers)
    assert running.exists()


def test_interrupted_upgrades_keep_one_copy_per_version(monkeypatch, tmp_path):
    path = tmp_path / "crm.sqlite3"
    shutil.copy(SCHEMA_DIR / "v1.sqlite3", path)
    os.chmod(path, 0o600)
    older = tmp_path / "crm.v1.bak2.sqlite3"  # a repeat an older build left
    shutil.copy(path, older)
    kept = tmp_path / "crm.v1.bak3.sqlite3"
    kept.write_bytes(b"not a copy crm-tui made: never touched")

    def interrupted(session):
        session.connection().execute(text("create table half_done(x integer)"))
        raise RuntimeError("killed")

    nxt = migrations.SCHEMA_VERSION + 1
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (nxt, "interrupted", interrupted)])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", nxt)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            Database.open(str(path))
    monkeypatch.undo()
    Database.open(str(path)).close()
    copies = sorted(p.name for p in tmp_path.glob("crm.v1.bak*.sqlite3"))
    assert copies == ["crm.v1.bak.sqlite3", "crm.v1.bak3.sqlite3"]
    assert kept.read_bytes() == b"not a copy crm-tui made: never touched"


def test_a_csv_with_too_many_columns_is_refused_before_it_is_read(db, tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(MAX_COLUMNS * 50)) + "\nname\n")
    with pytest.raises(ValidationError, match=f"{MAX_COLUMNS * 50:,} columns; at most {MAX_COLUMNS:,}"):
        import_file(db, "customers", wide)
    no_line = tmp_path / "one-line.csv"
    no_line.write_text("x" * (5 * 1024 * 1024))
    with pytest.raises(ValidationError, match="first line is longer than"):
        import_file(db, "customers", no_line)


def test_a_million_columns_are_refused_before_the_file_is_read(db, tmp_path, monkeypatch):
    """The attack's file: a million columns took 2.7 GB before its error. Refused from the first
    line alone — the body is never read — in little memory, and nothing is imported."""
    import tracemalloc

    from crm_tui.io import readers

    wide = tmp_path / "million.csv"
    wide.write_text(",".join("c" * 1_000_001) + "\n" + ",".join("x" * 1_000_001) + "\n")
    real = readers.Path.read_bytes

    def no_body(path, *args):
        assert path != wide, "the whole file was read before its columns were counted"
        return real(path, *args)

    monkeypatch.setattr(readers.Path, "read_bytes", no_body)
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError, match=r"has 1,000,001 columns; at most 1,000 can be imported"):
            import_file(db, "customers", wide)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"{peak:,} bytes"
    longer = tmp_path / "long-names.csv"  # a first line past what is read of it: counted as far as it goes
    longer.write_text(",".join(f"column {i}" for i in range(600_000)) + "\nAcme\n")
    with pytest.raises(ValidationError, match=r"has at least [\d,]+ columns; at most 1,000"):
        import_file(db, "customers", longer)
    with db.read() as session:
        assert session.execute(text("select count(*) from customer")).scalar() == 0


def test_a_column_name_too_long_for_the_csv_module_is_one_line(tmp_path):
    for name, header in (("bare.csv", "x" * 200_000), ("quoted.csv", '"' + "y" * 200_000 + '",name')):
        source = tmp_path / name
        source.write_text(header + "\nAcme\n")
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "crm_tui",
                "--db",
                str(tmp_path / "crm.sqlite3"),
                "import",
                "customers",
                str(source),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.strip().count("\n") == 0 and "column name longer than 131,072 characters" in p.stderr


def test_a_huge_cell_is_refused_naming_row_and_column(db, tmp_path):
    big = tmp_path / "big.csv"
    big.write_text(f'name,notes\nAcme,short\nGlobex,"{"x, " * MAX_CELL_CHARS}"\n')
    with pytest.raises(ValidationError, match=r"row 3, column 'notes' is 300,000 characters"):
        import_file(db, "customers", big)


def test_a_wide_workbook_is_refused(db, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append([f"c{i}" for i in range(MAX_COLUMNS + 1)])
    wb.active.append(["Acme"])
    path = tmp_path / "wide.xlsx"
    wb.save(path)
    with pytest.raises(ValidationError, match="columns; at most"):
        import_file(db, "customers", path)


def test_messages_name_the_file_not_a_url(tmp_path):
    garbage = tmp_path / "crm.sqlite3"
    garbage.write_bytes(b"this is not a database at all" * 100)
    p = subprocess.run(
        [sys.executable, "-m", "crm_tui", "--db", str(garbage), "report"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert p.returncode == 2 and str(garbage) in p.stderr, p.stderr
    assert "sqlite:" not in p.stderr
    assert garbage.read_bytes() == b"this is not a database at all" * 100  # and it was left alone


def test_copy_names_both_files_by_their_paths(tmp_path):
    source, target = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    for path, name in ((source, "Acme"), (target, "Globex")):
        db = Database.open(str(path))
        db.close()
        con = sqlite3.connect(path)
        with con:
            con.execute(
                "insert into customer (name, name_key, kind, email, phone, website, industry, tags, owner, "
                "source, status, created_at, updated_at, version) values (?, ?, 'company', '', '', '', '', "
                "'', '', '', 'lead', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)",
                (name, name.lower()),
            )
        con.close()
    p = subprocess.run(
        [sys.executable, "-m", "crm_tui", "copy", "--from", str(source), "--to", str(target)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert p.returncode == 2 and f"--to {target} already holds data" in p.stderr, p.stderr
    assert "sqlite:" not in p.stderr
