"""Upgrades: a database from every earlier schema opens with nothing lost, a
copy is saved before any upgrade, and a newer database is refused untouched."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, text

from crm_tui import kept, migrations
from crm_tui.db import Database
from crm_tui.errors import DatabaseError
from crm_tui.models import FIGURE_TABLES
from crm_tui.services import Services

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "schema"
FIXTURES = sorted(SCHEMA_DIR.glob("v*.sqlite3"))


def snapshot(path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table's columns and rows, read with plain sqlite3."""
    raw = sqlite3.connect(path)
    try:
        out = {}
        for (table,) in raw.execute("select name from sqlite_master where type='table' and name not like 'sqlite_%'"):
            cols = [r[1] for r in raw.execute(f'pragma table_info("{table}")')]
            out[table] = (cols, sorted(raw.execute(f'select * from "{table}"').fetchall(), key=repr))
        return out
    finally:
        raw.close()


def rows_of(path: Path, table: str, cols: list[str]) -> list[tuple]:
    raw = sqlite3.connect(path)
    try:
        names = ", ".join(f'"{c}"' for c in cols)
        return sorted(raw.execute(f'select {names} from "{table}"').fetchall(), key=repr)
    finally:
        raw.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def version_of(path: Path) -> int:
    raw = sqlite3.connect(path)
    try:
        return int(raw.execute("select value from crm_meta where key='schema_version'").fetchone()[0])
    finally:
        raw.close()


def copy_fixture(fixture: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "crm.sqlite3"
    shutil.copy(fixture, dest)
    os.chmod(dest, 0o600)
    return dest


def test_there_is_a_fixture_for_every_earlier_schema():
    versions = {int(p.stem[1:]) for p in FIXTURES}
    missing = set(range(1, max(migrations.SCHEMA_VERSION, 2))) - versions
    assert not missing, f"add tests/data/schema/make_v{min(missing)}.py and its fixture (run with that build)"


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_every_earlier_schema_opens_with_nothing_lost(fixture, tmp_path):
    path = copy_fixture(fixture, tmp_path)
    before = snapshot(path)
    # fig_state (schema 9) holds flags only, none set when every kept figure is current
    assert all(rows for t, (_cols, rows) in before.items() if t != "fig_state"), "the fixture holds rows in every table"
    db = Database.open(str(path))
    try:
        s = Services(db, user="after-upgrade")
        # the old data is usable: edit an old record, add new ones next to it
        deal = s.update_deal(2, amount="1")
        s.add_note("after the upgrade", deal_id=deal.id)
    finally:
        db.close()
    assert version_of(path) == migrations.SCHEMA_VERSION
    db = Database.open(str(path))
    try:
        with db.read() as session:
            assert kept.differences(session.connection()) == []
    finally:
        db.close()
    for table, (cols, rows) in before.items():
        now = rows_of(path, table, cols)
        if table in ("crm_meta", "change_log", "deal", "note", "journal", "journal_change"):
            assert set(now) >= set(rows) - _edited(table, rows), table  # appended to or edited above
        elif table in FIGURE_TABLES:
            continue  # they follow the edit above: checked against a recount below
        else:
            assert now == rows, f"{table} changed on upgrade"


def _edited(table: str, rows: list[tuple]) -> set[tuple]:
    if table == "deal":
        return {r for r in rows if r[0] == 2}
    if table == "crm_meta":
        return {r for r in rows if r[0] in ("schema_version", "schema_updated_at")}
    return set()


#: the version a pretend next build would write
NEXT = migrations.SCHEMA_VERSION + 1


@pytest.fixture
def v2(monkeypatch):
    """Pretend this build writes schema 2: a migration that adds a table and fills it."""
    ran = []

    def _v2_add_scores(session):
        conn = session.connection()
        table = Table(
            "lead_score", MetaData(), Column("customer_id", Integer, primary_key=True), Column("score", Integer)
        )
        table.create(conn)
        conn.execute(text("insert into lead_score(customer_id, score) select id, 50 from customer"))
        ran.append(2)

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (NEXT, "lead scores", _v2_add_scores)])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", NEXT)
    return ran


def test_a_copy_is_saved_before_an_upgrade(v2, tmp_path):
    path = copy_fixture(SCHEMA_DIR / "v1.sqlite3", tmp_path)
    before = snapshot(path)
    Database.open(str(path)).close()
    assert v2 == [2]
    backup = tmp_path / "crm.v1.bak.sqlite3"
    assert backup.exists()
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert version_of(backup) == 1 and snapshot(backup) == before  # exactly what the upgrade started from
    assert version_of(path) == NEXT
    raw = sqlite3.connect(path)
    assert raw.execute("select count(*), min(score) from lead_score").fetchone() == (4, 50)
    raw.close()
    # opening again does not upgrade or copy again
    Database.open(str(path)).close()
    assert v2 == [2] and sorted(p.name for p in tmp_path.glob("*.bak*")) == ["crm.v1.bak.sqlite3"]


def test_an_earlier_copy_is_never_overwritten(v2, tmp_path):
    path = copy_fixture(SCHEMA_DIR / "v1.sqlite3", tmp_path)
    old = tmp_path / "crm.v1.bak.sqlite3"
    old.write_bytes(b"an older copy the user kept")
    Database.open(str(path)).close()
    assert old.read_bytes() == b"an older copy the user kept"
    assert version_of(tmp_path / "crm.v1.bak2.sqlite3") == 1


def test_a_failed_upgrade_changes_nothing_and_keeps_the_copy(monkeypatch, tmp_path):
    def _broken(session):
        session.connection().execute(text("create table half_done(x integer)"))
        raise RuntimeError("migration bug")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (NEXT, "broken", _broken)])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", NEXT)
    path = copy_fixture(SCHEMA_DIR / "v1.sqlite3", tmp_path)
    before = snapshot(path)
    with pytest.raises(RuntimeError, match="migration bug"):
        Database.open(str(path))
    assert snapshot(path) == before  # one transaction: no half-done upgrade
    assert version_of(tmp_path / "crm.v1.bak.sqlite3") == 1


def test_upgrade_refused_when_the_copy_cannot_be_saved(v2, tmp_path, monkeypatch):
    from crm_tui import engines

    def _no_space(src, dest):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engines, "backup_sqlite", _no_space)
    path = copy_fixture(SCHEMA_DIR / "v1.sqlite3", tmp_path)
    before = snapshot(path)
    with pytest.raises(DatabaseError, match="cannot save a copy .* before upgrading it from schema 1 .No space left"):
        Database.open(str(path))
    assert v2 == [] and snapshot(path) == before


def test_upgrade_false_refuses_an_old_database(v2, tmp_path):
    path = copy_fixture(SCHEMA_DIR / "v1.sqlite3", tmp_path)
    with pytest.raises(DatabaseError, match=f"needs an upgrade from schema 1 to {NEXT}"):
        Database.open(str(path), upgrade=False)
    assert version_of(path) == 1 and not list(tmp_path.glob("*.bak*"))


def test_a_newer_database_is_refused_and_left_untouched(tmp_path):
    path = copy_fixture(SCHEMA_DIR / "v1.sqlite3", tmp_path)
    raw = sqlite3.connect(path)
    raw.execute("pragma journal_mode=wal")
    raw.execute("update crm_meta set value=? where key='schema_version'", (str(migrations.SCHEMA_VERSION + 1),))
    raw.commit()
    raw.close()
    before = digest(path)
    with pytest.raises(DatabaseError, match=r"written by a newer crm-tui .*upgrade crm-tui to open it"):
        Database.open(str(path))
    assert digest(path) == before and not list(tmp_path.glob("*.bak*"))
