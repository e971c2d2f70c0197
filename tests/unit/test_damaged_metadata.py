"""Tracebacks and internal messages (issue 17, finding 7): the last possible date (a report's
end, a snooze past it), and a damaged schema version record, give one clear line; ``doctor``
names the damage and ``doctor --fix`` repairs it; nothing is copied or changed on the way."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from crm_tui import doctor
from crm_tui.db import Database
from crm_tui.errors import DatabaseError, ValidationError
from crm_tui.metrics import Filters, report
from crm_tui.migrations import SCHEMA_VERSION
from crm_tui.models import Task

REPO = Path(__file__).resolve().parents[2]
DAMAGE = ["abc", "", "3.0", "-1", "0", None]  # None: the record is missing


def crm(*args):
    return subprocess.run(
        [sys.executable, "-m", "crm_tui", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def one_line(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crm-tui: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def damage(path: Path, value: str | None) -> None:
    con = sqlite3.connect(path)
    with con:
        if value is None:
            con.execute("delete from crm_meta where key = 'schema_version'")
        else:
            con.execute("update crm_meta set value = ? where key = 'schema_version'", (value,))
    con.close()


def test_the_last_possible_date_is_a_period_end(db, services):
    acme = services.create_customer(name="Acme")
    services.win_deal(services.create_deal("Big", customer_id=acme.id, amount="100").id)
    everything = report(db, Filters())
    assert report(db, Filters(until=dt.date.max))["deals"] == everything["deals"]
    assert report(db, Filters(since=dt.date.min, until=dt.date.max))["deals"]["won_count"] == 1


def test_snoozing_past_the_last_date_is_refused_in_words(db, services):
    task = services.add_task("Call at the end of time", due_at="9999-12-31T12:00:00+00:00")
    with db.read() as session:
        entries = session.execute(text("select count(*) from journal")).scalar()
    for days in (1, 3, 7):
        with pytest.raises(ValidationError, match=r"is due 9999-12-31; \d days? later is past 9999-12-31"):
            services.snooze_task(task.id, days=days)
    with db.read() as session:  # nothing written
        assert session.execute(text("select count(*) from journal")).scalar() == entries
    assert services.get(Task, task.id).due_at == task.due_at
    moved = services.snooze_task(task.id, until="9999-12-30T09:00:00+00:00")  # a date it can keep
    assert moved.due_at == dt.datetime(9999, 12, 30, 9, tzinfo=dt.UTC)


def test_report_until_9999_12_31_is_not_a_traceback(tmp_path):
    Database.open(str(tmp_path / "crm.sqlite3")).close()
    p = crm("--db", str(tmp_path / "crm.sqlite3"), "report", "--until", "9999-12-31")
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr


@pytest.mark.parametrize("value", DAMAGE)
def test_a_damaged_schema_version_is_one_line_and_doctor_repairs_it(tmp_path, value):
    path = tmp_path / "crm.sqlite3"
    Database.open(str(path)).close()
    damage(path, value)
    before = set(tmp_path.iterdir())
    one_line(crm("--db", str(path), "report"), "schema version record is damaged", "doctor --fix")
    assert set(tmp_path.iterdir()) - before <= {Path(f"{path}-wal"), Path(f"{path}-shm")}  # no backup copy
    checked = crm("--db", str(path), "doctor")
    assert checked.returncode == 1 and "Traceback" not in checked.stderr, checked.stderr
    assert "PROBLEM: the schema version record is damaged" in checked.stdout
    assert f"sets it to {SCHEMA_VERSION}" in checked.stdout
    fixed = crm("--db", str(path), "doctor", "--fix")
    assert f"set to {SCHEMA_VERSION}, what the tables show" in fixed.stdout, fixed.stdout + fixed.stderr
    assert crm("--db", str(path), "report").returncode == 0
    assert not list(tmp_path.glob("*.bak*"))


def test_a_repair_from_an_older_schema_upgrades_next(tmp_path):
    """The tables of schema 2 (no index of schema 3): the repair says 2, opening upgrades."""
    path = tmp_path / "crm.sqlite3"
    Database.open(str(path)).close()
    con = sqlite3.connect(path)
    con.execute("drop index ix_deal_closed_metrics")
    con.close()
    damage(path, "x")
    out = io.StringIO()
    doctor.run(type("Args", (), {"fix": True})(), str(path), out=out)
    assert "set to 2" in out.getvalue()
    Database.open(str(path)).close()
    assert list(tmp_path.glob("*.v2.bak.sqlite3"))


def test_a_repair_of_a_schema_4_file_says_4_and_opening_adds_schema_5(tmp_path):
    """Schema 5 adds a column, not a table or an index: the repair reads columns too."""
    path = tmp_path / "crm.sqlite3"
    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "schema" / "v4.sqlite3", path)
    os.chmod(path, 0o600)
    damage(path, "abc")
    out = io.StringIO()
    doctor.run(type("Args", (), {"fix": True})(), str(path), out=out)
    assert "set to 4" in out.getvalue(), out.getvalue()
    Database.open(str(path)).close()
    con = sqlite3.connect(path)
    assert "outcome" in {r[1] for r in con.execute("pragma table_info(task)")}
    con.close()


def test_a_damaged_record_on_a_server_is_reported_and_repaired(pg_db_url):
    db = Database.open(pg_db_url)
    with db.engine.begin() as conn:
        conn.execute(text("update crm_meta set value = '-1' where key = 'schema_version'"))
    db.close()
    with pytest.raises(DatabaseError, match="schema version record is damaged"):
        Database.open(pg_db_url)
    out = io.StringIO()
    assert doctor.run(type("Args", (), {"fix": False})(), pg_db_url, out=out) == 1
    assert "PROBLEM: the schema version record is damaged (schema_version is '-1')" in out.getvalue()
    out = io.StringIO()
    assert doctor.run(type("Args", (), {"fix": True})(), pg_db_url, out=out) == 0
    Database.open(pg_db_url).close()
