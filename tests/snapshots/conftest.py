"""Snapshot helpers shared by the screen snapshots (TUI helpers add to this file)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from textual.worker import WorkerState

#: seconds with no worker running that count as quiet (longer than the app's warm-up timer)
IDLE_FOR = 0.15


@pytest.fixture
def settled():
    """``run_before=settled(*keys)``: wait for the database and every worker, press keys, wait again."""

    def make(*keys: str):
        async def quiet(pilot) -> None:
            app = pilot.app
            # Quiet means: the database is open and no worker ran across several frames that
            # together outlast the warm-up's timer. Counting a fixed number of rounds was not
            # enough: the Reports screen starts its reads in a chain (the database opens, the
            # goals come, then the sections and the forecast), and on a loaded machine a round
            # could pass before the next link had started, so CI once pictured it a section short.
            deadline = time.monotonic() + 30
            idle_since: float | None = None
            while idle_since is None or time.monotonic() - idle_since < IDLE_FOR:
                assert time.monotonic() < deadline, "the app never went quiet"
                await app.workers.wait_for_complete()
                await pilot.pause(0.01)
                busy = getattr(app, "db", True) is None or any(
                    w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers
                )
                if busy:
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
            # a form gives focus once the keys of its burst are in (tui.modals.early_keys)
            while not getattr(app.screen, "caught_up", True):
                assert time.monotonic() < deadline, "the form never took focus"
                await pilot.pause(0.01)
            # a table shown by the last message (the customer page's orders) lays out its rows on
            # the frames after: a picture taken one frame early misses them (on a loaded machine,
            # a few frames later than on a quiet one: CI saw the customer page a frame short once)
            for _ in range(3):
                await pilot.pause()

        async def run_before(pilot) -> None:
            await quiet(pilot)
            for key in keys:
                await pilot.press(key)
                await quiet(pilot)

        return run_before

    return make


@pytest.fixture(scope="session")
def board_db_file(tmp_path_factory, new_sqlite, clock_type):
    """Deals across every stage (one rotting, one CJK, one with markup), tasks in every group, one order-free book.

    Always a SQLite file: the pictures do not depend on the engine, so they are taken once.
    Built once per worker; each test gets a copy (``board_db``). The clock it is built on ends
    where the ``clock`` fixture starts (FROZEN_NOW), so a test's clock and the data agree.
    """
    from crm_tui.db import Database
    from crm_tui.services import Services

    clock = clock_type()
    start = clock.now
    path = new_sqlite(tmp_path_factory.mktemp("board-db") / "snap.sqlite3")
    db = Database.open(str(path))
    services = Services(db, user="ann", clock=clock)
    names = ["[red]ACME[/red] Corp", "Globex", "株式会社テスト商事", "Initech", "Umbrella"]
    customers = [services.create_customer(name=n, owner=("ann", "bob")[i % 2]) for i, n in enumerate(names)]
    clock.advance(days=-40)
    old = services.create_deal("Stale pilot", customer_id=customers[3].id, amount="4200", owner="bob")
    clock.advance(days=40)
    plan = [
        ("[b]Fleet[/b] renewal", 0, "12000", 0),
        ("Warehouse racks", 1, "8400.50", 1),
        ("年度保守契約の更新", 2, "56000", 2),
        ("Pilot expansion", 3, "23000", 3),
        ("Support tier", 4, "1500", 1),
        ("Laptops 40x", 0, "36000", 2),
    ]
    for title, who, amount, steps in plan:
        deal = services.create_deal(title, customer_id=customers[who].id, amount=amount, owner=("ann", "bob")[who % 2])
        for _ in range(steps):
            services.move_deal_step(deal.id, 1)
    won = services.create_deal("Server refresh", customer_id=customers[1].id, amount="18000")
    services.win_deal(won.id)
    lost = services.create_deal("Printers", customer_id=customers[4].id, amount="2500", owner="bob")
    services.lose_deal(lost.id, "price")
    services.add_task(
        "Chase signature", kind="call", deal_id=old.id, due_at=clock.now - dt.timedelta(days=3), priority=3
    )
    services.add_task(
        "Prepare demo", kind="meeting", customer_id=customers[0].id, due_at=clock.now + dt.timedelta(hours=3)
    )
    done = services.add_task(
        "Send brochure", kind="email", customer_id=customers[2].id, due_at=clock.now - dt.timedelta(days=1)
    )
    services.complete_task(done.id)
    db.close()  # the last connection: the WAL is checkpointed into the file
    assert not [p for p in path.parent.iterdir() if p != path], "a copy of the file alone would miss them"
    assert clock.now == start, "the book must end on the clock's start: the tests' clock starts there"
    return path


@pytest.fixture
def board_db(board_db_file, new_sqlite, tmp_path):
    """A copy of the board's book (``board_db_file``) for one test, which may change it."""
    from crm_tui.db import Database

    db = Database.open(str(new_sqlite(tmp_path / "snap.sqlite3", board_db_file)))
    yield db
    db.close()
