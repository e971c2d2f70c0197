"""The demo database: deterministic, internally consistent, and never written over real data."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from crm_tui import demo, demo_io, models
from crm_tui.db import Database
from crm_tui.errors import ValidationError

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)
DATA_TABLES = [t for t in models.SQLModel.metadata.sorted_tables if t.name not in ("change_log", "crm_meta")]


def dump(db) -> dict[str, list[tuple]]:
    with db.read() as session:
        conn = session.connection()
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))] for t in DATA_TABLES
        }


def rows(db, table) -> list:
    with db.read() as session:
        return session.connection().execute(select(table).order_by(table.c.id)).all()


@pytest.fixture(scope="module")
def demo300(tmp_path_factory):
    """One size-300 demo shared by the consistency checks (they only read it)."""
    db = Database.open(str(tmp_path_factory.mktemp("demo") / "demo.sqlite3"))
    calls = []
    counts = demo.generate(db, size=300, seed=7, now=NOW, progress=lambda *a: calls.append(a))
    yield db, counts, calls
    db.close()


def test_same_seed_and_now_give_identical_databases_and_another_seed_differs(tmp_path):
    dbs = [Database.open(str(tmp_path / f"{name}.sqlite3")) for name in ("a", "b", "c")]
    demo.generate(dbs[0], size=120, seed=11, now=NOW)
    demo.generate(dbs[1], size=120, seed=11, now=NOW)
    demo.generate(dbs[2], size=120, seed=12, now=NOW)
    first, second, other = (dump(db) for db in dbs)
    assert first["customer"] and first["deal"] and first["task"]
    assert first == second
    assert first["customer"] != other["customer"] and first["deal"] != other["deal"]


def test_chunks_built_in_a_helper_process_give_the_same_rows_as_built_in_line(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "CHUNK", 40)  # 3 chunks: the forked helper builds them where fork exists
    helper = Database.open(str(tmp_path / "helper.sqlite3"))
    seen = []
    demo.generate(helper, size=100, seed=5, now=NOW, progress=lambda *a: seen.append(a))
    monkeypatch.setattr(demo_io.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    inline = Database.open(str(tmp_path / "inline.sqlite3"))
    demo.generate(inline, size=100, seed=5, now=NOW)
    assert dump(helper) == dump(inline)
    assert [a for a in seen if a[0] == "customers"] == [
        ("customers", 40, 100),
        ("customers", 80, 100),
        ("customers", 100, 100),
    ]


def test_counts_match_the_rows_and_the_requested_scale(demo300):
    db, counts, calls = demo300
    with db.read() as session:
        conn = session.connection()
        for name, n in counts.items():
            table = models.SQLModel.metadata.tables[name]
            assert conn.execute(select(func.count()).select_from(table)).scalar() == n, name
    assert counts["customer"] == 300
    assert 750 <= counts["deal"] <= 1050  # ≈ 3 per customer
    assert counts["task"] >= 900 and counts["task"] <= 1000
    assert 8 <= counts["product"] <= 16
    assert counts["note"] >= 300 and counts["sales_order"] > 0
    assert ("customers", 300, 300) in calls
    phase, done, total = calls[-1]
    assert phase == "indexes" and done == total > 0


def test_every_customer_has_a_contact_and_a_status_that_matches_its_deals(demo300):
    db, _, _ = demo300
    S = models.Stage.__table__
    outcome = {s.id: s.outcome for s in rows(db, S)}
    won_by_customer = defaultdict(bool)
    for d in rows(db, models.Deal.__table__):
        won_by_customer[d.customer_id] |= outcome[d.stage_id] == "won"
    contacts = {c.customer_id for c in rows(db, models.Contact.__table__)}
    customers = rows(db, models.Customer.__table__)
    assert {c.id for c in customers} <= contacts
    for c in customers:
        assert c.status in models.CUSTOMER_STATUSES and c.owner and c.name and c.email
        assert (c.status in ("customer", "churned")) == won_by_customer[c.id], c
    assert {c.kind for c in customers} == {"company", "person"}
    assert len({c.owner for c in customers}) >= 6
    assert "[" not in "".join(c.name for c in customers)  # demo data is clean text


def test_deals_follow_their_stage_history(demo300):
    db, _, _ = demo300
    stages = {s.id: s for s in rows(db, models.Stage.__table__)}
    lead = min((s for s in stages.values() if s.outcome == "open"), key=lambda s: s.position)
    history = defaultdict(list)
    for ch in rows(db, models.StageChange.__table__):
        history[ch.deal_id].append(ch)
    skipped = False
    for d in rows(db, models.Deal.__table__):
        moves = history[d.id]
        assert moves[0].from_stage_id is None and moves[0].to_stage_id == lead.id
        assert moves[0].at == d.created_at
        assert moves[-1].to_stage_id == d.stage_id
        assert d.stage_entered_at == moves[-1].at
        for before, after in zip(moves, moves[1:]):
            assert after.from_stage_id == before.to_stage_id
            assert after.at > before.at
            assert stages[after.to_stage_id].outcome != "open" or (
                stages[after.to_stage_id].position > stages[before.to_stage_id].position
            )
            if (
                stages[after.to_stage_id].outcome == "open"
                and (stages[after.to_stage_id].position - stages[before.to_stage_id].position) > 1
            ):
                skipped = True
        kind = stages[d.stage_id].outcome
        if kind == "open":
            assert d.closed_at is None and d.expected_close is not None and d.lost_reason == ""
        else:
            assert d.closed_at is not None and d.closed_at >= d.created_at
            assert d.closed_at == moves[-1].at
        assert (kind == "lost") == bool(d.lost_reason)
    assert skipped, "some deal should skip a stage"


def test_every_stage_has_deals_and_some_open_deals_are_rotting(demo300):
    db, _, _ = demo300
    stages = {s.id: s for s in rows(db, models.Stage.__table__)}
    deals = rows(db, models.Deal.__table__)
    per_stage = defaultdict(int)
    for d in deals:
        per_stage[d.stage_id] += 1
    assert set(per_stage) == set(stages), "every open stage, Won and Lost have deals"
    rotting = [
        d
        for d in deals
        if stages[d.stage_id].rot_days is not None
        and NOW - d.stage_entered_at > dt.timedelta(days=stages[d.stage_id].rot_days)
    ]
    fresh = [d for d in deals if stages[d.stage_id].outcome == "open" and d not in rotting]
    assert rotting and fresh


def test_deal_amounts_equal_their_product_lines_and_orders_are_positive(demo300):
    db, _, _ = demo300
    totals = defaultdict(int)
    for line in rows(db, models.DealProduct.__table__):
        assert line.quantity >= 1 and line.unit_price_cents > 0
        totals[line.deal_id] += line.quantity * line.unit_price_cents
    deals = rows(db, models.Deal.__table__)
    for d in deals:
        assert d.amount_cents == totals[d.id] > 0, d.id
    order_totals = defaultdict(int)
    for line in rows(db, models.OrderLine.__table__):
        order_totals[line.order_id] += line.quantity * line.unit_price_cents
    orders = rows(db, models.Order.__table__)
    assert all(order_totals[o.id] > 0 for o in orders)
    stages = {s.id: s.outcome for s in rows(db, models.Stage.__table__)}
    by_id = {d.id: d for d in deals}
    for o in orders:
        if o.deal_id is not None:
            assert stages[by_id[o.deal_id].stage_id] == "won"
            assert order_totals[o.id] == by_id[o.deal_id].amount_cents
    assert any(o.deal_id is None for o in orders) and any(o.deal_id is not None for o in orders)
    assert {o.status for o in orders} >= {"fulfilled", "approved", "cancelled"}
    assert len({o.number for o in orders}) == len(orders)


def test_tasks_cover_overdue_today_upcoming_and_done_relative_to_now(demo300):
    db, _, _ = demo300
    tasks = rows(db, models.Task.__table__)
    open_ = [t for t in tasks if t.done_at is None]
    done = [t for t in tasks if t.done_at is not None]
    assert [t for t in open_ if t.due_at < NOW], "overdue"
    assert [t for t in open_ if t.due_at.date() == NOW.date()], "due today"
    assert [t for t in open_ if t.due_at.date() > NOW.date()], "upcoming"
    assert len(done) > len(tasks) / 2, "many tasks are done"
    assert [t for t in done if t.done_at <= t.due_at] and [t for t in done if t.done_at > t.due_at]
    assert {t.kind for t in tasks} == set(models.TASK_KINDS)
    assert all(t.customer_id is not None and t.owner for t in tasks)
    assert any(t.deal_id is not None for t in tasks) and any(t.deal_id is None for t in tasks)
    deal_owner = {d.id: d.owner for d in rows(db, models.Deal.__table__)}
    assert all(t.owner == deal_owner[t.deal_id] for t in tasks if t.deal_id is not None)


def test_no_timestamp_lies_in_the_future(demo300):
    db, _, _ = demo300
    for table in DATA_TABLES:
        for column in table.columns:
            if isinstance(column.type, models.UTCDateTime) and column.name != "due_at":
                with db.read() as session:
                    latest = session.connection().execute(select(func.max(column))).scalar()
                if latest is not None:
                    assert latest <= NOW, f"{table.name}.{column.name}"


def test_refuses_a_database_that_has_data_and_changes_nothing(db):
    demo.generate(db, size=5, seed=1, now=NOW)
    before = dump(db)
    with pytest.raises(ValidationError, match="needs an empty database"):
        demo.generate(db, size=50, seed=2, now=NOW)
    assert dump(db) == before
    # The indexes dropped for the bulk load are all back.
    with db.read() as session:
        from sqlalchemy import inspect

        names = {ix["name"] for ix in inspect(session.connection()).get_indexes("deal")}
    assert {ix.name for ix in models.Deal.__table__.indexes} <= names


@pytest.mark.parametrize("size", [0, -3, "10", True])
def test_rejects_a_size_that_is_not_a_positive_whole_number(db, size):
    with pytest.raises(ValidationError, match="size"):
        demo.generate(db, size=size, now=NOW)
    assert dump(db)["customer"] == []


def test_generates_on_every_engine(any_db):
    counts = demo.generate(any_db, size=30, seed=3, now=NOW)
    with any_db.read() as session:
        conn = session.connection()
        assert conn.execute(select(func.count()).select_from(models.Deal)).scalar() == counts["deal"] > 0
        latest = conn.execute(select(func.max(models.StageChange.at))).scalar()
    assert latest <= NOW and latest.tzinfo is not None


def test_the_deal_flow_grows_with_the_book_instead_of_piling_up_at_the_end(demo300):
    """A two-year book that grows: about 1.6 times the deals in its last year as in its first,
    and most deals long decided — not 11 times as many in the last year and a third of all
    deals still open (what the first generator made: every chart a hockey stick)."""
    db, _counts, _calls = demo300
    year_ago = NOW - dt.timedelta(days=365)
    with db.read() as session:
        conn = session.connection()
        created = [
            c if c.tzinfo else c.replace(tzinfo=dt.UTC) for c in conn.execute(select(models.Deal.created_at)).scalars()
        ]
        open_ids = select(models.Stage.id).where(models.Stage.outcome == "open")
        still_open = conn.execute(
            select(func.count()).select_from(models.Deal).where(models.Deal.stage_id.in_(open_ids))
        ).scalar()
    last_year = sum(c >= year_ago for c in created)
    assert 1.2 <= last_year / (len(created) - last_year) <= 2.5
    assert 0.03 <= still_open / len(created) <= 0.2


def test_a_rep_adds_records_to_a_demo_database_on_either_engine(db, services):
    """The demo writes its rows with their ids: the engine's own ids must go on after them."""
    demo.generate(db, size=5, seed=3)
    acme = services.create_customer(name="Fresh Co")
    deal = services.create_deal("Fresh deal", customer_id=acme.id)
    services.add_task("Call Fresh Co", deal_id=deal.id)
    services.add_note("First note", customer_id=acme.id)
    assert services.get(type(acme), acme.id).name == "Fresh Co"
