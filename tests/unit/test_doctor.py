"""Privacy on shared servers and ``crm-tui doctor [--fix]``."""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from crm_tui import doctor, engines, safety
from crm_tui.db import Database
from crm_tui.errors import DatabaseError
from crm_tui.migrations import SCHEMA_VERSION
from crm_tui.services import Services


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def run_doctor(db_value, *extra) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="crm-tui")
    doctor.add_parser(parser.add_subparsers())
    args = parser.parse_args(["doctor", *extra])
    out = io.StringIO()
    assert args.handler is doctor.run
    code = doctor.run(args, str(db_value), out=out)
    return code, out.getvalue()


@pytest.fixture
def filled(tmp_path):
    path = tmp_path / "private" / "crm.sqlite3"
    db = Database.open(str(path))
    s = Services(db, user="ann")
    c = s.create_customer(name="Acme")
    s.create_customer(name="Gone")
    s.delete_customer(2)
    s.create_deal("Anvils", customer_id=c.id, amount=100)
    db.close()
    return path


# -- privacy ------------------------------------------------------------------------------


def test_side_files_and_backups_are_private_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        path = tmp_path / "new" / "crm.sqlite3"
        db = Database.open(str(path))
        Services(db, user="ann").create_customer(name="Secret Corp")
        side = [p for p in safety.database_files(path)]
        assert {p.name for p in side} >= {"crm.sqlite3", "crm.sqlite3-wal", "crm.sqlite3-shm"}
        assert all(mode(p) == 0o600 for p in side), {p.name: oct(mode(p)) for p in side}
        assert mode(path.parent) == 0o700
        assert db.permission_warning == ""
        dest = tmp_path / "new" / "backups" / "copy.sqlite3"
        engines.backup_sqlite(db.path, dest)
        assert mode(dest) == 0o600 and mode(dest.parent) == 0o700
        db.close()
    finally:
        os.umask(old)


def test_opening_a_database_others_can_read_warns_once(filled):
    os.chmod(filled, 0o644)
    os.chmod(filled.parent, 0o755)
    db = Database.open(str(filled))
    try:
        assert db.permission_warning.startswith("privacy: 2 problems")
        assert "crm-tui doctor --fix" in db.permission_warning
        assert mode(filled) == 0o644  # opening warns; it does not change the user's files
    finally:
        db.close()
    problems = safety.check_permissions(filled)
    assert len(problems) == 2
    assert "mode 0644" in problems[0] and "chmod 600" in problems[0]
    assert "folder" in problems[1] and "mode 0755" in problems[1]


def test_private_database_has_no_warning(filled):
    db = Database.open(str(filled))
    assert db.permission_warning == "" and safety.check_permissions(filled) == []
    db.close()


# -- doctor -----------------------------------------------------------------------------------


def test_doctor_reports_a_healthy_database(filled):
    code, out = run_doctor(filled)
    assert code == 0, out
    assert "integrity  ok" in out
    assert f"schema     version {SCHEMA_VERSION} (current)" in out
    assert "customer 2 (1 deleted)" in out and "deal 1" in out
    assert "privacy    ok" in out
    assert out.rstrip().endswith("healthy")


def test_doctor_fix_makes_file_and_folder_private(filled):
    os.chmod(filled, 0o664)
    os.chmod(filled.parent, 0o775)
    code, out = run_doctor(filled)
    assert code == 1 and out.count("PROBLEM") == 2
    assert mode(filled) == 0o664  # without --fix nothing changes
    code, out = run_doctor(filled, "--fix")
    assert code == 0, out
    assert "0664 → 0600" in out and "0775 → 0700" in out
    assert mode(filled) == 0o600 and mode(filled.parent) == 0o700
    assert all(mode(p) == 0o600 for p in safety.database_files(filled))
    assert run_doctor(filled)[0] == 0


def test_doctor_never_chmods_a_shared_folder(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    path = shared / "crm.sqlite3"
    Database.open(str(path)).close()
    code, out = run_doctor(path, "--fix")
    assert code == 1
    assert "not fixed: folder" in out and "sticky bit" in out
    assert mode(shared) == 0o1777 and mode(path) == 0o600


def test_doctor_reports_damage_and_changes_nothing(filled, tmp_path):
    engines.backup_sqlite(filled, filled.parent / "backups" / "crm-1.sqlite3")
    raw = sqlite3.connect(filled)
    raw.execute("pragma journal_mode=delete")
    root = raw.execute("select rootpage from sqlite_master where name='customer'").fetchone()[0]
    page = raw.execute("pragma page_size").fetchone()[0]
    raw.close()
    with open(filled, "r+b") as fh:  # scribble over the customer table's root page
        fh.seek((root - 1) * page + 8)
        fh.write(b"\xff" * 64)
    before = digest(filled)
    code, out = run_doctor(filled)
    assert code == 1
    assert "integrity  PROBLEM: the file is damaged" in out and "restore a backup" in out
    assert "backups/crm-1.sqlite3" in out
    assert digest(filled) == before


def test_doctor_on_newer_and_older_schema_changes_nothing(filled, monkeypatch):
    from crm_tui import migrations

    raw = sqlite3.connect(filled)
    newer, later = SCHEMA_VERSION + 1, SCHEMA_VERSION + 3
    raw.execute("update crm_meta set value=? where key='schema_version'", (str(newer),))
    raw.commit()
    raw.close()
    before = digest(filled)
    code, out = run_doctor(filled)
    assert code == 1 and f"version {newer} is newer than this crm-tui knows ({SCHEMA_VERSION})" in out
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", later)
    code, out = run_doctor(filled)
    assert code == 0 and f"version {newer}; opening it upgrades it to {later} (a copy is saved first)" in out
    assert digest(filled) == before
    assert not list(filled.parent.glob("*.bak*"))


def test_doctor_on_a_missing_file_creates_nothing(tmp_path):
    with pytest.raises(DatabaseError, match="there is no database at"):
        run_doctor(tmp_path / "nope" / "crm.sqlite3")
    assert not (tmp_path / "nope").exists()


def test_doctor_on_a_file_that_is_not_crm_tui(tmp_path):
    path = tmp_path / "other.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("create table stuff(x)")
    raw.commit()
    raw.close()
    os.chmod(path, 0o600)
    os.chmod(tmp_path, 0o700)
    code, out = run_doctor(path)
    assert code == 1 and "not a crm-tui database" in out


def test_doctor_fix_on_a_file_that_is_not_a_database_says_so_and_leaves_it_alone(tmp_path):
    """`--db notes.txt doctor --fix`: one line saying it is no database, the file as it was
    (not even made private: a wrong path is not ours to change)."""
    path = tmp_path / "notes.txt"
    path.write_text("call Ann back\n", encoding="utf-8")
    os.chmod(path, 0o644)
    before = digest(path)
    with pytest.raises(DatabaseError, match="is not a database file .* check --db"):
        run_doctor(path, "--fix")
    assert digest(path) == before and stat.S_IMODE(path.stat().st_mode) == 0o644


def test_doctor_on_a_file_it_cannot_read_says_so_in_one_line(filled, monkeypatch):
    from pathlib import Path

    real = Path.open

    def denied(self, *args, **kwargs):
        if self == filled:
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)  # root reads any file: the refusal is simulated
    with pytest.raises(DatabaseError, match="cannot read .*Permission denied.*check its permissions"):
        run_doctor(filled)


def test_doctor_module_is_light_for_cli_help():
    code = (
        "import sys, crm_tui.doctor\n"
        "heavy = [m for m in ('sqlalchemy', 'sqlmodel', 'pandas', 'textual') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_doctor_checks_the_kept_figures_and_rebuilds_them(filled):
    """Kept figures that disagree with the deals are a problem the doctor names and
    ``--rebuild-figures`` fixes; a healthy book says ok."""
    code, out = run_doctor(filled)
    assert "figures    ok" in out
    con = sqlite3.connect(filled)
    with con:
        con.execute("UPDATE fig_deal SET value = value + 7 WHERE n > 0")
    con.close()
    code, out = run_doctor(filled)
    assert code == 1 and "kept figure cell(s) differ" in out and "--rebuild-figures" in out
    code, out = run_doctor(filled, "--rebuild-figures")
    assert "figures    rebuilt:" in out and "figures    ok" in out and "differ" not in out
