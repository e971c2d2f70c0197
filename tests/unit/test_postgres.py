"""Team scale: the same app on PostgreSQL — concurrent reps, change polling,
schema history, time zones and clear connection errors. Tests taking ``any_db``
run on both engines so the two behave alike."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlmodel import Session

from crm_tui.db import Database
from crm_tui.errors import ConflictError, DatabaseError
from crm_tui.models import ChangeLog, Note, Pipeline

UTC = dt.UTC


def _url(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


class _CommitDelays(dict):
    """Seconds each named thread's commits take (others: a random 0–20 ms), and when a named
    thread's commit has begun."""

    def __init__(self) -> None:
        super().__init__()
        self._begun: dict[str, threading.Event] = {}

    def begun(self, name: str) -> threading.Event:
        """Set once thread ``name`` is inside a commit (its statements sent, the commit delayed)."""
        return self._begun.setdefault(name, threading.Event())


@pytest.fixture
def slow_commits():
    """Make commits slow and uneven (per thread), as on a busy network server."""
    rng = random.Random(7)
    delays = _CommitDelays()

    def _sleep(session):
        name = threading.current_thread().name
        delays.begun(name).set()
        delay = delays.get(name)
        # deliberately slow: the time a commit takes on a busy server, not a wait for anything
        time.sleep(rng.random() * 0.02 if delay is None else delay)

    event.listen(Session, "before_commit", _sleep)
    yield delays
    event.remove(Session, "before_commit", _sleep)


def test_poller_sees_every_change_even_when_commits_finish_out_of_order(any_db, slow_commits):
    url = _url(any_db)
    poller = Database.open(url)
    writers = [Database.open(url) for _ in range(4)]
    expected: set[str] = set()
    seen: set[str] = set()
    errors: list[BaseException] = []

    def write(index: int, db: Database) -> None:
        try:
            for k in range(12):
                name = f"w{index}_{k}"
                with db.write({name}) as session:
                    session.add(Note(body=name))
        except BaseException as exc:  # noqa: BLE001 - pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i, w)) for i, w in enumerate(writers)]
    for i in range(4):
        expected.update(f"w{i}_{k}" for k in range(12))
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        change = poller.poll_changes()
        if change:
            seen.update(change.tables)
    for thread in threads:
        thread.join()
    change = poller.poll_changes()
    if change:
        seen.update(change.tables)
    assert not errors
    assert seen - {"journal", "note"} == expected, f"missed {sorted(expected - seen)}"
    with any_db.read() as session:
        ids = session.exec(select(ChangeLog.id).order_by(ChangeLog.id)).scalars().all()
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gaps either
    for db in writers + [poller]:
        db.close()


def test_two_reps_saving_the_same_deal_at_once_get_a_conflict_not_a_lost_edit(any_db, slow_commits):
    from crm_tui.services import Services

    url = _url(any_db)
    ann_db, bob_db = Database.open(url), Database.open(url)
    ann, bob = Services(ann_db, user="ann"), Services(bob_db, user="bob")
    deal = ann.create_deal("Fleet renewal", amount="1000")
    version = deal.version
    slow_commits["ann"] = 0.6  # ann's save is still committing when bob saves
    slow_commits["bob"] = 0.0
    outcome: dict[str, object] = {}

    def save(name: str, services, title: str) -> None:
        try:
            outcome[name] = services.update_deal(deal.id, expected_version=version, title=title).title
        except ConflictError as exc:
            outcome[name] = exc

    first = threading.Thread(target=save, name="ann", args=("ann", ann, "Ann's title"))
    second = threading.Thread(target=save, name="bob", args=("bob", bob, "Bob's title"))
    first.start()
    assert slow_commits.begun("ann").wait(30), "ann's save never reached its commit"
    second.start()  # while ann's save is committing
    first.join()
    second.join()
    assert outcome["ann"] == "Ann's title"
    assert isinstance(outcome["bob"], ConflictError)
    assert "changed in another session" in outcome["bob"].message
    current = ann.get(type(deal), deal.id)
    assert (current.title, current.version) == ("Ann's title", version + 1)
    ann_db.close()
    bob_db.close()


def test_report_months_and_days_are_utc_whatever_the_server_time_zone(any_db):
    from crm_tui.metrics import report
    from crm_tui.services import Services

    late = dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # already February east of UTC
    services = Services(any_db, user="ann", clock=lambda: late)
    deal = services.create_deal("Late in January", amount="250")
    services.win_deal(deal.id)
    months = {row["month"]: row["won_value"] for row in report(any_db, now=late)["revenue_by_month"]}
    assert months.get("2026-01") == 250
    assert "2026-02" not in months or months["2026-02"] == 0


def test_reopening_a_postgresql_database_keeps_its_schema_and_data(pg_db_url):
    from crm_tui.services import Services

    db = Database.open(pg_db_url)
    Services(db, user="ann").create_customer(name="Kept")
    db.close()
    again = Database.open(pg_db_url)
    with again.read() as session:
        assert len(session.exec(select(Pipeline)).all()) == 1
    assert [c.name for c in _customers(again)] == ["Kept"]
    again.close()


def test_newer_schema_on_the_server_is_refused(pg_db_url):
    db = Database.open(pg_db_url)
    with db.write({"crm_meta"}) as session:
        session.connection().exec_driver_sql("UPDATE crm_meta SET value = '999' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(DatabaseError, match="newer crm-tui .schema 999"):
        Database.open(pg_db_url)


def test_an_empty_server_database_gets_the_schema_and_default_pipeline(pg_admin):
    url = pg_admin.create(empty=True)
    db = Database.open(url)
    with db.read() as session:
        names = [p.name for p in session.exec(select(Pipeline)).scalars()]
    assert names == ["Sales"]
    db.close()


def _customers(db):
    from crm_tui.models import Customer

    with db.read() as session:
        return session.exec(select(Customer).order_by(Customer.id)).scalars().all()


# -- connection problems: one clear line, the fix included ---------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_not_running_gives_a_clear_message():
    pytest.importorskip("psycopg")
    port = _free_port()
    with pytest.raises(DatabaseError) as info:
        Database.open(f"postgresql+psycopg://ann:pw@127.0.0.1:{port}/crm")
    message = info.value.message
    assert message.startswith(f"cannot connect to the PostgreSQL server at 127.0.0.1:{port}: ")
    assert "refused" in message.lower()
    assert message.endswith("check it is running and the URL")
    assert "pw" not in message.replace("PostgreSQL", "")  # the password is never shown


def test_wrong_password_names_the_user_and_the_fix(pg_url):
    wrong = make_url(pg_url).set(password="not-the-password").render_as_string(hide_password=False)
    try:
        Database.open(wrong).close()
    except DatabaseError as exc:
        user = make_url(pg_url).username
        assert exc.message.startswith(f"password authentication failed for user {user}")
        assert "check the password in the URL or ~/.pgpass" in exc.message
        assert "not-the-password" not in exc.message
    else:
        pytest.skip("this server does not check passwords (trust authentication)")


def test_unknown_database_says_how_to_create_it(pg_url):
    url = make_url(pg_url).set(database="no_such_crm_db").render_as_string(hide_password=False)
    with pytest.raises(DatabaseError, match="the database 'no_such_crm_db' does not exist .*createdb no_such_crm_db"):
        Database.open(url)


def test_server_restart_mid_session_gives_a_clear_error_then_reconnects(pg_db_url, pg_admin):
    from crm_tui.services import Services

    db = Database.open(pg_db_url)
    services = Services(db, user="ann")
    services.create_customer(name="Before")
    with db.read() as session:  # a pooled connection the server is about to drop
        session.connection().exec_driver_sql("SELECT 1")
    name = make_url(pg_db_url).database
    pg_admin.conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    # pool_pre_ping replaces the dead connection: the next action just works
    services.create_customer(name="After")
    assert [c.name for c in _customers(db)] == ["Before", "After"]
    assert db.poll_changes() is None  # our own changes are not "remote"
    db.close()


def test_connection_lost_inside_a_transaction_is_one_clear_error(pg_db_url, pg_admin):
    db = Database.open(pg_db_url)
    name = make_url(pg_db_url).database
    with pytest.raises(DatabaseError, match="cannot connect to the PostgreSQL server at 127.0.0.1:"):
        with db.read() as session:
            session.connection().exec_driver_sql("SELECT 1")
            pg_admin.conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            session.connection().exec_driver_sql("SELECT 1")
    with db.read() as session:  # and the next one reconnects
        assert session.connection().exec_driver_sql("SELECT 1").scalar() == 1
    db.close()


def test_my_deals_and_the_report_owner_filter_agree_on_both_engines(any_db, monkeypatch):
    from crm_tui.config import current_user
    from crm_tui.metrics import Filters, report
    from crm_tui.queries.pipeline import load_board
    from crm_tui.services import Services

    now = dt.datetime(2026, 3, 16, 12, tzinfo=UTC)
    monkeypatch.setenv("CRM_TUI_USER", "Ann Lee")
    me = Services(any_db, clock=lambda: now)  # the rep's name comes from the config
    assert me.user == current_user() == "Ann Lee"
    bob = Services(any_db, user="bob", clock=lambda: now)
    mine = me.create_deal("Mine open", amount="100")
    won = me.create_deal("Mine won", amount="300")
    me.win_deal(won.id)
    bob.win_deal(bob.create_deal("Bob's", amount="5000").id)
    board = load_board(any_db, None, now=now, owner=current_user())
    titles = sorted(card.title for cards in board.cards.values() for card in cards)
    assert titles == ["Mine open", "Mine won"]
    figures = report(any_db, Filters(owner="Ann Lee"), now=now)
    assert (figures["deals"]["open_value"], figures["deals"]["won_value"]) == (100, 300)
    owners = {row["owner"]: row["won_value"] for row in report(any_db, now=now)["owners"]}
    assert owners == {"Ann Lee": 300, "bob": 5000}
    assert mine.owner == "Ann Lee"
