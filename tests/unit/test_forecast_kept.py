"""The learned months are kept in crm_meta for a database state and a day: read back, not learned
again, until a deal changes (or the day); what the past taught is kept for the month, so a change
that concerns only this month reads the deals open now, not the book, and a change to the past
learns again — always what learning from scratch gives; a read-only database still gets them,
computed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from test_forecast import NOW, make_book

from crm_tui.db import Database
from crm_tui.metrics import forecast_read
from crm_tui.metrics.forecast import KEEP_KEY, forecast_months
from crm_tui.models import Meta


def kept_value(db):
    with db.read() as s:
        return s.execute(select(Meta.value).where(Meta.key == KEEP_KEY)).scalar()


def counting_reads(monkeypatch, *, whole_only=True):
    """The reads of the whole book (with ``whole_only``; else every read, as ``"open"`` or ``"book"``)."""
    calls = []
    real_book, real_parts = forecast_read.read_book, forecast_read.read_parts

    def read_book(conn, *, open_at=None, **kwargs):
        if open_at is None or not whole_only:
            calls.append("book" if open_at is None else "open")
        return real_book(conn, open_at=open_at, **kwargs)

    def read_parts(conn):
        calls.append("book")
        return real_parts(conn)

    monkeypatch.setattr(forecast_read, "read_book", read_book)
    monkeypatch.setattr(forecast_read, "read_parts", read_parts)
    return calls


def test_the_learned_months_are_kept_until_a_deal_changes(db, clock, monkeypatch):
    from crm_tui.services import Services

    ids = make_book(db)
    reads = counting_reads(monkeypatch)
    first = forecast_months(db, months=2, now=NOW)
    assert len(reads) == 1 and kept_value(db) is not None
    assert forecast_months(db, months=2, now=NOW + dt.timedelta(hours=3)) == first  # the same state, the same day
    assert len(reads) == 1  # read back, not learned again
    clock.now = NOW
    services = Services(db, user="ann", clock=clock)
    services.add_task("call back")  # a write the forecast does not read: still kept
    assert forecast_months(db, months=2, now=NOW) == first and len(reads) == 1
    forecast_months(db, months=3, now=NOW)  # other months: learned
    forecast_months(db, months=2, now=NOW + dt.timedelta(days=1))  # another day: learned
    assert len(reads) == 3
    services.update_deal(ids["D"], amount="5000.00")  # D is open: the forecast moves
    after = forecast_months(db, months=2, now=NOW)
    assert len(reads) == 3 and after != first  # its past is in the journal: only the open deals read
    assert after == forecast_months(db, months=2, now=NOW, keep=False)  # what learning gives


def test_a_change_to_this_month_reads_the_open_deals_and_one_to_the_past_learns_again(db, clock, monkeypatch):
    from sqlalchemy import text

    from crm_tui.services import Services

    ids = make_book(db)
    forecast_months(db, months=3, now=NOW)
    reads = counting_reads(monkeypatch, whole_only=False)
    clock.now = NOW
    services = Services(db, user="ann", clock=clock)

    def same_as_learning() -> bool:
        return forecast_months(db, months=3, now=NOW) == forecast_months(db, months=3, now=NOW, keep=False)

    # this month's changes: a stage move, a new deal, a win — the deals open now are read, not the book
    services.move_deal_step(ids["D"], 1)
    assert same_as_learning() and reads[:1] == ["open"]
    fresh = services.create_deal("Fresh", amount="700.00")
    services.win_deal(fresh.id)
    reads.clear()
    assert same_as_learning() and reads[:1] == ["open"]
    # the past changed: a deal won in February worth more, then reopened; one created last quarter
    # deleted; an old move written in plain SQL
    services.update_deal(ids["C"], amount="900.00")
    reads.clear()
    assert same_as_learning() and reads[:1] == ["book"]
    services.reopen_deal(ids["C"])
    reads.clear()
    assert same_as_learning() and reads[:1] == ["book"]
    services.delete_deal(ids["A"])
    reads.clear()
    assert same_as_learning() and reads[:1] == ["book"]
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stage_change (deal_id, from_stage_id, to_stage_id, at, by) "
                "SELECT id, stage_id, stage_id, :at, 'sql' FROM deal WHERE id = :d"
            ),
            {"d": ids["B"], "at": (NOW - dt.timedelta(days=70)).replace(tzinfo=None)},
        )
    reads.clear()
    assert same_as_learning() and reads[:1] == ["book"]
    reads.clear()
    forecast_months(db, months=3, now=NOW)
    assert reads == []  # and then kept again


def test_a_read_only_database_still_gets_the_forecast(tmp_path):
    path = tmp_path / "crm.sqlite3"
    db = Database.open(str(path))
    make_book(db)
    want = forecast_months(db, months=2, now=NOW, keep=False)
    db.close()
    ro = Database.open(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        assert forecast_months(ro, months=2, now=NOW) == want  # computed
        assert kept_value(ro) is None  # not stored
    finally:
        ro.close()


def test_a_viewer_gets_the_forecast_and_a_team_of_own_deals_keeps_none(pg_db_url):
    """PostgreSQL: a viewer (or a rep) may not write crm_meta; the months are computed for them. A
    team whose reps see only their own deals keeps nothing there: the whole book's forecast is
    a manager's figure."""
    import io
    import sys
    import uuid

    from sqlalchemy.engine import make_url

    from crm_tui import cli

    login, password = f"vera_{uuid.uuid4().hex[:6]}", "pw-vera-long-enough"
    old, sys.stdin = sys.stdin, io.StringIO(password + "\n")
    try:
        assert cli.main(["--db", pg_db_url, "team", "add-rep", login, "--role", "viewer", "--password-stdin"]) == 0
    finally:
        sys.stdin = old
    owner = Database.open(pg_db_url)
    viewer = Database.open(make_url(pg_db_url).set(username=login, password=password).render_as_string(False))
    try:
        make_book(owner)
        want = forecast_months(owner, months=2, now=NOW, keep=False)
        assert forecast_months(viewer, months=2, now=NOW) == want
        assert kept_value(owner) is None  # the viewer could not keep them
        assert forecast_months(owner, months=2, now=NOW) == want
        assert kept_value(owner) is not None  # the owner could
        assert cli.main(["--db", pg_db_url, "team", "policy", "--reps-see", "own"]) == 0
        assert forecast_months(owner, months=2, now=NOW) == want
        assert kept_value(owner) is None  # reps see their own: nothing of the whole book is left there
        assert forecast_months(viewer, months=2, now=NOW) == want
    finally:
        viewer.close()
        owner.close()


def test_months_read_back_need_neither_numpy_nor_the_model(tmp_path):
    """What makes a report with kept months cheap: a fresh process reading them back imports neither."""
    import subprocess
    import sys

    path = tmp_path / "crm.sqlite3"
    db = Database.open(str(path))
    make_book(db)
    forecast_months(db, months=2, now=NOW)  # learned and kept
    db.close()
    code = (
        "import sys, datetime as dt\n"
        "from crm_tui.db import Database\n"
        "from crm_tui.metrics.forecast import forecast_months\n"
        f"now = dt.datetime.fromisoformat({NOW.isoformat()!r})\n"
        f"rows = forecast_months(Database.open({str(path)!r}), months=2, now=now)\n"
        "print(len(rows), 'numpy' in sys.modules, 'crm_tui.metrics.forecast_model' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2", "False", "False"]
