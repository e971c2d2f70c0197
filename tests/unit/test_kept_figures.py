"""The figures the database keeps (crm_tui.kept) always equal a full recomputation, whatever
a rep does and in whatever order: random operations through the real services, undo and redo,
funnel redesigns, another session's raw SQL — on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import select

from crm_tui import kept
from crm_tui.errors import CrmError
from crm_tui.metrics import Filters, report_figures
from crm_tui.metrics.forecast import forecast_months
from crm_tui.models import Customer, Deal, Order, OrderLine, Stage, Task

OWNERS = ("ann", "bob", "")
OPS = (
    *("customer",) * 2,
    *("deal",) * 4,
    *("move",) * 3,
    *("edit",) * 2,
    "delete_deal",
    "restore_deal",
    *("delete_customer",) * 2,
    *("restore_customer",) * 2,
    *("undo",) * 2,
    "redo",
    "reorder",
    "raw_history",
    "raw_unhistory",
    "raw_close",
    *("order",) * 2,
    *("fulfil",) * 2,
    "cancel",
    "reline",
    *("task",) * 3,
    *("done",) * 2,
    "activity",
    "delete_task",
    *("lines",) * 2,
)


def _ids(db, model, **where) -> list[int]:
    q = select(model.id)
    for k, v in where.items():
        q = q.where(getattr(model, k) == v)
    with db.read() as s:
        return sorted(s.exec(q).all())


def _apply(services, db, clock, op: str, pick) -> None:
    customers = _ids(db, Customer)
    deals = _ids(db, Deal)
    stages = _ids(db, Stage)
    clock.advance(hours=pick(st.integers(1, 200)))
    if op == "customer":
        services.create_customer(name=f"Co {len(customers)}")
    elif op == "deal":
        services.create_deal(
            f"Deal {len(deals)}",
            customer_id=pick(st.sampled_from(customers)) if customers and pick(st.integers(0, 4)) else None,
            amount=str(pick(st.integers(0, 10**9)) / 100),
            owner=pick(st.sampled_from(OWNERS)),
            **({"probability": pick(st.integers(0, 100))} if pick(st.booleans()) else {}),
        )
    elif not deals and op not in ("customer", "deal", "delete_customer", "restore_customer", "undo", "redo", "reorder"):
        return
    elif op == "move":
        deal, stage = pick(st.sampled_from(deals)), pick(st.sampled_from(stages))
        with db.read() as s:
            target = s.get(Stage, stage)
        services.move_deal(deal, stage, lost_reason="price" if target and target.outcome == "lost" else "")
    elif op == "edit":
        field = pick(st.sampled_from(["amount", "owner", "probability", "currency"]))
        value = {
            "amount": str(pick(st.integers(0, 10**7))),
            "owner": pick(st.sampled_from(OWNERS)),
            "probability": pick(st.sampled_from(["", "0", "35", "100"])),
            "currency": pick(st.sampled_from(["USD", "EUR"])),
        }[field]
        services.update_deal(pick(st.sampled_from(deals)), **{field: value})
    elif op == "delete_deal":
        services.delete_deal(pick(st.sampled_from(deals)))
    elif op == "restore_deal":
        services.restore_deal(pick(st.sampled_from(deals)))
    elif op in ("delete_customer", "restore_customer") and customers:
        cid = pick(st.sampled_from(customers))
        (services.delete_customer if op == "delete_customer" else services.restore_customer)(cid)
    elif op == "undo":
        services.undo()
    elif op == "redo":
        services.redo()
    elif op == "reorder":
        with db.read() as s:
            opens = [x.id for x in s.exec(select(Stage).where(Stage.outcome == "open", Stage.archived_at.is_(None)))]
        services.move_stage(pick(st.sampled_from(opens)), pick(st.sampled_from([-1, 1])))
    elif op == "raw_history":  # another program writes history the services did not
        deal, stage = pick(st.sampled_from(deals)), pick(st.sampled_from(stages))
        with db.write({"stage_change"}, journal=False) as s:
            s.execute(
                text("INSERT INTO stage_change (deal_id, to_stage_id, at, by) VALUES (:d, :s, :at, 'sql')"),
                {"d": deal, "s": stage, "at": clock.now.replace(tzinfo=None)},
            )
    elif op == "order" and customers:  # for a customer, from one of the deals or none
        product = services.create_product(f"P{len(deals)}", str(pick(st.integers(1, 9999))))
        deal = pick(st.sampled_from([None, *deals]))
        services.create_order(pick(st.sampled_from(customers)), [(product.id, pick(st.integers(1, 5)))], deal_id=deal)
    elif op in ("fulfil", "cancel", "reline"):
        orders = _ids(db, Order)
        if not orders:
            return
        order = pick(st.sampled_from(orders))
        if op == "fulfil":
            with contextlib.suppress(CrmError):  # already approved
                services.approve_order(order)
            services.fulfil_order(order)
        elif op == "cancel":
            services.cancel_order(order)
        else:
            with db.read() as s:
                line = s.exec(select(OrderLine).where(OrderLine.order_id == order)).first()
            if line is not None:
                services.change_order_line(line.id, quantity=str(pick(st.integers(1, 9))))
    elif op == "lines":  # a deal's product lines (market demand)
        product = services.create_product(f"L{len(deals)}", str(pick(st.integers(1, 999))))
        services.set_deal_lines(pick(st.sampled_from(deals)), [(product.id, pick(st.integers(1, 9)))])
    elif op == "task":
        services.add_task(
            f"T{len(deals)}",
            owner=pick(st.sampled_from(OWNERS)),
            deal_id=pick(st.sampled_from([None, *deals])),
            customer_id=pick(st.sampled_from([None, *customers])),
            due_at=(clock.now + dt.timedelta(hours=pick(st.integers(-300, 300)))).isoformat(),
        )
    elif op == "activity":
        services.log_activity(
            kind=pick(st.sampled_from(["call", "email", "meeting"])),
            outcome=pick(st.sampled_from(["reached", "no answer"])),
            deal_id=pick(st.sampled_from([None, *deals])),
        )
    elif op in ("done", "delete_task"):
        tasks = _ids(db, Task)
        if tasks:
            (services.complete_task if op == "done" else services.delete_task)(pick(st.sampled_from(tasks)))
    elif op == "raw_unhistory":  # or takes a stage change out of a deal's history
        with db.write({"stage_change"}, journal=False) as s:
            s.execute(
                text("DELETE FROM stage_change WHERE id = (SELECT MAX(id) FROM stage_change WHERE deal_id = :d)"),
                {"d": pick(st.sampled_from(deals))},
            )
    elif op == "raw_close":  # and changes a closed time behind the services' back
        with db.write({"deal"}, journal=False) as s:
            s.execute(
                text("UPDATE deal SET closed_at = :at WHERE id = :d"),
                {"d": pick(st.sampled_from(deals)), "at": (clock.now - dt.timedelta(days=40)).replace(tzinfo=None)},
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request, tmp_path):
    """A factory of fresh databases (a copy of one made once), one per hypothesis example, so
    each example starts from the same state and replays exactly."""
    import itertools
    import shutil
    from contextlib import contextmanager

    from crm_tui.db import Database
    from crm_tui.services import Services

    counter = itertools.count()
    if request.param == "sqlite":
        template = tmp_path / "template.sqlite3"
        Database.open(str(template)).close()
    else:
        admin = request.getfixturevalue("pg_admin")

    @contextmanager
    def make():
        if request.param == "sqlite":
            path = tmp_path / f"ex{next(counter)}.sqlite3"
            shutil.copy(template, path)
            url = str(path)
        else:
            url = admin.create()
        db = Database.open(url)
        clock = request.getfixturevalue("clock").__class__()
        try:
            yield db, Services(db, user="ann", clock=clock), clock
        finally:
            db.close()
            if request.param != "sqlite":
                admin.drop(url)

    make.engine = request.param
    return make


def test_kept_figures_equal_a_full_recomputation_after_any_operations(fresh):
    """Random operations, then the kept figures compared with a full recomputation (fewer examples
    on the server, where every commit is a round trip)."""

    @settings(
        max_examples=12 if fresh.engine == "sqlite" else 5,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(data=st.data())
    def run(data):
        with fresh() as (db, services, clock):
            done = []
            forecast_months(db, months=3, now=clock.now)  # what the past taught, kept from the start
            report_figures(db, now=clock.now)  # and the segments, kept in db.memo
            for _ in range(data.draw(st.integers(1, 45), label="operations")):
                op = data.draw(st.sampled_from(OPS), label="op")
                try:
                    _apply(services, db, clock, op, data.draw)
                    done.append(op)
                except CrmError:
                    pass  # refused (nothing to undo, a deleted deal, ...): nothing was written
            with db.read() as s:  # once at the end: a wrong step leaves its mark on what follows too
                assert kept.differences(s.connection()) == [], done
            # the forecast from what was kept (fig_touch said the past is unchanged, or it learned
            # again) is what learning from scratch gives
            assert forecast_months(db, months=3, now=clock.now) == forecast_months(
                db, months=3, now=clock.now, keep=False
            ), done
            # the segments kept since the first report (used again unless a write rewrote a purchase,
            # carried forward in time) are what counting again gives
            kept_segments = report_figures(db, now=clock.now).segments
            db.memo.clear()
            assert kept_segments == report_figures(db, now=clock.now).segments, done

    run()


def test_a_stage_reorder_settles_in_its_own_transaction(services, db):
    lead = services.create_deal("A", amount="100")
    stages = _ids(db, Stage, outcome="open")
    services.move_deal(lead.id, stages[2])
    services.move_stage(stages[2], -1)  # positions change: the reach is rebuilt before it commits
    with db.read() as s:
        conn = s.connection()
        assert not kept.reach_stale(conn)
        assert kept.differences(conn) == []


def test_the_report_reads_the_kept_figures(services, db):
    """A figure that only the kept cells could give: the kept table is edited behind the
    database's back, and the report shows the edit (so it read the cells, not the deals)."""
    deal = services.create_deal("A", amount="100", owner="ann")
    before = report_figures(db, Filters()).deals
    assert before is not None and before.open_count == 1 and before.open_cents == 10000
    with db.write({"deal"}, journal=False) as s:
        s.execute(text("UPDATE fig_deal SET value = value + 1 WHERE n > 0"))
    after = report_figures(db, Filters()).deals
    assert after is not None and after.open_cents == 10001
    with db.read() as s:
        assert kept.differences(s.connection())  # and the check sees it
    with db.write({"deal"}, journal=False) as s:
        kept.rebuild(s.connection())
    with db.read() as s:
        assert kept.differences(s.connection()) == []
    assert deal.id is not None


def test_a_stage_move_costs_the_same_whatever_the_book(services, db):
    """The triggers touch a bounded number of cells: a move runs as many statements with 40 more
    deals in its stages as with none."""
    from sqlalchemy import event

    stages = _ids(db, Stage, outcome="open")

    def statements_of_a_move() -> int:
        deal = services.create_deal("moving", amount="10")
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            services.move_deal(deal.id, stages[1])
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    first = statements_of_a_move()
    for i in range(40):
        services.move_deal(services.create_deal(f"D{i}", amount="10").id, stages[1])
    assert statements_of_a_move() == first


def test_an_import_its_reimport_and_its_undo_keep_the_figures(services, db, tmp_path):
    """The importer's merge pauses the triggers and settles the deals it touched set-based: the
    figures still equal a full recomputation after an import, a re-import that updates, and undo."""
    from pathlib import Path

    from crm_tui.io import import_file

    maven = Path(__file__).resolve().parents[1] / "data" / "maven-crm"
    lines = (maven / "sales_pipeline.csv").read_text().splitlines()
    first = tmp_path / "first.csv"
    first.write_text("\n".join(lines[:400]) + "\n")
    assert import_file(db, "deals", first, user="ann").created > 0
    with db.read() as s:
        assert kept.differences(s.connection()) == []
    again = tmp_path / "again.csv"  # the same deals, moved on: every Engaging deal now Won
    again.write_text("\n".join([lines[0], *(ln.replace(",Engaging,", ",Won,") for ln in lines[1:600])]) + "\n")
    r = import_file(db, "deals", again, user="ann")
    assert r.updated > 0 and r.created > 0
    with db.read() as s:
        assert kept.differences(s.connection()) == []
    services.undo()  # the re-import, then the import
    with db.read() as s:
        assert kept.differences(s.connection()) == []
    services.undo()
    with db.read() as s:
        assert kept.differences(s.connection()) == []


def test_purchases_follow_won_deals_and_fulfilled_orders(services, db):
    """Customer value V is what the kept purchases say, through every way an order or a won deal
    changes: an order counts once fulfilled, not twice when it came from a won deal, its lines'
    changes count, a cancelled one and a deleted customer's count nothing."""

    def value() -> int:
        figures = report_figures(db, Filters()).customers
        assert figures is not None
        with db.read() as s:
            assert kept.differences(s.connection()) == []
        return figures.value_cents

    acme = services.create_customer(name="Acme")
    other = services.create_customer(name="Other")
    won = _ids(db, Stage, outcome="won")[0]
    widget = services.create_product("Widget", "10")
    deal = services.create_deal("Big", customer_id=acme.id, amount="500")
    order = services.create_order(acme.id, [(widget.id, 3)])
    assert value() == 0  # a draft order and an open deal are no purchase
    line = _ids(db, OrderLine, order_id=order.id)[0]
    services.change_order_line(line, quantity="4")
    services.approve_order(order.id)
    services.fulfil_order(order.id)
    assert value() == 4000
    services.move_deal(deal.id, won)
    assert value() == 54000
    from_deal = services.create_order(other.id, [(widget.id, 1)], deal_id=deal.id)  # another customer's order
    services.approve_order(from_deal.id)
    services.fulfil_order(from_deal.id)
    assert value() == 54000  # from a won deal: counted once, as the deal
    services.reopen_deal(deal.id)
    assert value() == 5000  # the deal no longer won: its order is a purchase of its own
    services.delete_customer(acme.id)
    assert value() == 1000
    services.restore_customer(acme.id)
    services.undo()  # the restore
    services.undo()  # the delete
    assert value() == 5000
