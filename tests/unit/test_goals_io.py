"""Goals export and import back: the same database takes its own export as updates (0 created),
an empty one recreates the same goals; both engines."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_tui.db import Database
from crm_tui.io import export_kind, import_file
from crm_tui.services import Services

NOW = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)


@pytest.fixture
def empty_db(db, request, tmp_path):
    if db.url.get_backend_name() == "sqlite":
        other = Database.open(str(tmp_path / "empty.sqlite3"))
    else:
        other = Database.open(request.getfixturevalue("pg_admin").create())
    yield other
    other.close()


def shape(db):
    return sorted(
        (g.owner, g.metric, g.period, g.target, g.stage_id is not None) for g in Services(db, user="x").list_goals()
    )


def test_goals_round_trip(services, db, empty_db, tmp_path):
    services.set_goal("won_value", "month", "120000.50")
    services.set_goal("deals_advanced", "week", "3", owner="bob", stage="Proposal")
    services.set_goal("activities_done", "quarter", "40", owner="ann")
    gone = services.set_goal("deals_won", "year", "9")
    services.remove_goal(gone.id)  # removed goals are not exported
    path = tmp_path / "goals.csv"
    assert export_kind(db, "goals", path, "csv") == 3
    before = shape(db)
    r = import_file(db, "goals", path, now=NOW)
    assert (r.created, r.updated, r.rejected) == (0, 3, 0), r.first_errors
    assert shape(db) == before
    r = import_file(empty_db, "goals", path, now=NOW)
    assert (r.created, r.rejected) == (3, 0), r.first_errors
    assert shape(empty_db) == before
    assert (12_000_050, "won_value") in {(g.target, g.metric) for g in Services(empty_db, user="x").list_goals()}
    # a changed target in the file updates the goal
    path.write_text(path.read_text().replace(",40,", ",50,"))
    r = import_file(empty_db, "goals", path, now=NOW)
    assert (r.created, r.updated) == (0, 3)
    assert 50 in {g.target for g in Services(empty_db, user="x").list_goals()}
    # a bad row is rejected with its reason, the others kept
    bad = tmp_path / "bad.csv"
    bad.write_text("metric,period,target,stage\ndeals_won,month,0,\ndeals_advanced,month,2,\nwon_value,week,5,\n")
    r = import_file(empty_db, "goals", bad, now=NOW)
    assert (r.created, r.rejected) == (1, 2)
