"""The deals open now, kept in memory between forecasts (``forecast_read.read_book(memo=…)``) and
patched with the deals ``fig_feed`` names since: always what reading them afresh gives, whatever
changed them — the services, undo, raw SQL, an import, a price — and however far time moved on.
SQLite only: PostgreSQL reads the open deals afresh each time."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from test_kept_figures import OPS, _apply, _ids

from crm_tui import kept
from crm_tui.db import Database
from crm_tui.errors import CrmError
from crm_tui.metrics import forecast_model, forecast_read
from crm_tui.models import Customer, Deal, Product, Stage
from crm_tui.services import Services

pytestmark = pytest.mark.sqlite_only


def open_view(book: forecast_model.Book, t: dt.datetime) -> dict[str, object]:
    """Everything the forecast reads of the deals open at ``t``: per deal its row's values, its
    moves, its state, value and expected close then; and the stages, rates and missing currencies."""
    at = forecast_model._us(t)
    opened = book.open_at(t)
    span = book._move_span
    expected = book.expected_at(opened.rows, at)
    deals = {}
    for j, r in enumerate(opened.rows.tolist()):
        lo, hi = int(span[r]), int(span[r + 1])
        deals[int(book.ids[r])] = (
            int(book.pipeline[r]),
            int(book.created[r]),
            int(book.amount[r]),
            int(book.list_cents[r]) if book.has_list[r] else None,
            book.currency[r],
            list(zip(book.move_at[lo:hi].tolist(), book.move_to[lo:hi].tolist())),
            int(opened.states[j]),
            int(opened.values[j]),
            int(opened.stages[j]),
            int(expected[j]),
        )
    return {
        "read": book.ids.tolist(),  # the deals read: those not closed by then
        "deals": deals,
        "probability": book.probability,
        "closed_stages": book.closed_stages,
        "first_open": book.first_open,
        "missing": book.missing,
    }


def views(db: Database, memo: dict, t: dt.datetime) -> tuple[dict, dict]:
    """(kept and patched, read afresh) views of the deals open at ``t``."""
    with db.read() as s:
        conn = s.connection()
        return (
            open_view(forecast_read.read_book(conn, open_at=t, memo=memo), t),
            open_view(forecast_read.read_book(conn, open_at=t), t),
        )


@pytest.fixture
def fresh(tmp_path, clock_type):
    """A factory of fresh SQLite databases, one per hypothesis example."""
    import itertools
    from contextlib import contextmanager

    counter = itertools.count()
    template = tmp_path / "template.sqlite3"
    Database.open(str(template)).close()

    @contextmanager
    def make():
        path = tmp_path / f"ex{next(counter)}.sqlite3"
        shutil.copy(template, path)
        db = Database.open(str(path))
        clock = clock_type()
        try:
            yield db, Services(db, user="ann", clock=clock), clock
        finally:
            db.close()

    return make


#: the kept figures' operations, and more of those that write one table behind the services' back
FEED_OPS = (*OPS, *("raw_history", "raw_unhistory", "raw_close", "raw_line", "raw_customer", "price") * 3)


def _apply_raw(db: Database, clock, op: str, pick) -> bool:
    """``op`` if it is one of this file's (another program's raw SQL, a new price); False if not."""
    if op == "price":
        products = _ids(db, Product)
        if products:
            with db.write({"product"}, journal=False) as s:
                s.execute(
                    text("UPDATE product SET unit_price_cents = :p WHERE id = :id"),
                    {"p": pick(st.integers(1, 9999)), "id": pick(st.sampled_from(products))},
                )
        return True
    if op == "raw_line":  # a line on a deal, and nothing else
        deals, products = _ids(db, Deal), _ids(db, Product)
        if deals and products:
            with db.write({"deal_product"}, journal=False) as s:
                s.execute(
                    text("INSERT INTO deal_product (deal_id, product_id, quantity, unit_price_cents) "
                         "VALUES (:d, :p, :q, 0)"),
                    {"d": pick(st.sampled_from(deals)), "p": pick(st.sampled_from(products)),
                     "q": pick(st.integers(1, 5))},
                )  # fmt: skip
        return True
    if op == "raw_customer":  # a customer deleted or restored, its deals left as they are
        customers = _ids(db, Customer)
        if customers:
            with db.write({"customer"}, journal=False) as s:
                s.execute(
                    text("UPDATE customer SET deleted_at = CASE WHEN deleted_at IS NULL THEN :at END WHERE id = :c"),
                    {"at": clock.now.replace(tzinfo=None), "c": pick(st.sampled_from(customers))},
                )
        return True
    return False


def test_the_kept_open_deals_equal_a_fresh_read_after_any_operations(fresh):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def run(data):
        with fresh() as (db, services, clock):
            memo: dict = {}
            with db.read() as s:
                forecast_read.read_book(s.connection(), open_at=clock.now, memo=memo)
            done = []
            for _ in range(data.draw(st.integers(1, 30), label="operations")):
                op = data.draw(st.sampled_from(FEED_OPS), label="op")
                try:
                    if not _apply_raw(db, clock, op, data.draw):
                        _apply(services, db, clock, op, data.draw)
                    done.append(op)
                except CrmError:
                    pass
                if data.draw(st.booleans(), label="forecast now"):
                    kept_view, fresh_view = views(db, memo, clock.now)
                    assert kept_view == fresh_view, done
            kept_view, fresh_view = views(db, memo, clock.now)
            assert kept_view == fresh_view, done

    run()


def _stages(db: Database, outcome: str) -> list[int]:
    return [i for i in _ids(db, Stage, outcome=outcome)]


def reads_of(monkeypatch) -> list[int | None]:
    """How many deals each read of the deals asked for by id (None: every deal open)."""
    sizes: list[int | None] = []
    real = forecast_read._read_raw

    def counted(conn, *, open_at=None, among=None):
        sizes.append(None if among is None else len(among))
        return real(conn, open_at=open_at, among=among)

    monkeypatch.setattr(forecast_read, "_read_raw", counted)
    return sizes


def test_a_stage_move_reads_the_moved_deal_only(services, clock, monkeypatch):
    db = services.db
    stages = _stages(db, "open")
    deals = [services.create_deal(f"D{i}", amount="100").id for i in range(6)]
    memo: dict = {}
    sizes = reads_of(monkeypatch)
    assert views(db, memo, clock.now)[0]["deals"]
    assert sizes == [None, None]  # nothing kept yet, and the fresh read beside it
    clock.advance(hours=1)
    services.move_deal(deals[2], stages[1])
    kept_view, fresh_view = views(db, memo, clock.now)
    assert kept_view == fresh_view and sizes[2:] == [1, None]
    clock.advance(hours=1)
    assert views(db, memo, clock.now)[0] == fresh_view and sizes[4:] == [None]  # nothing changed: nothing read


def test_a_price_an_import_or_a_feed_pruned_past_the_kept_position_reads_them_all(
    services, clock, monkeypatch, tmp_path
):
    from crm_tui.io import import_file

    db = services.db
    product = services.create_product("Widget", "10")
    deal = services.create_deal("With lines", amount="5").id
    services.set_deal_lines(deal, [(product.id, 3)])
    memo: dict = {}
    views(db, memo, clock.now)
    sizes = reads_of(monkeypatch)
    services.update_product(product.id, unit_price="12")  # every deal with the product: one NULL row
    kept_view, fresh_view = views(db, memo, clock.now)
    assert kept_view == fresh_view and sizes == [None, None]
    assert fresh_view["deals"][deal][3] == 3600

    maven = Path(__file__).resolve().parents[1] / "data" / "maven-crm"
    lines = (maven / "sales_pipeline.csv").read_text().splitlines()
    csv = tmp_path / "deals.csv"
    csv.write_text("\n".join(lines[:60]) + "\n")
    assert import_file(db, "deals", csv, user="ann").created > 0  # the triggers paused: one NULL row
    del sizes[:]
    kept_view, fresh_view = views(db, memo, clock.now)
    assert kept_view == fresh_view and sizes == [None, None]

    monkeypatch.setattr(kept, "FEED_KEPT", 2)  # the feed keeps its two newest rows only
    for i in range(3):
        services.update_deal(deal, amount=str(100 + i))
    del sizes[:]
    kept_view, fresh_view = views(db, memo, clock.now)
    assert kept_view == fresh_view and sizes == [None, None]
    assert fresh_view["deals"][deal][2] == 10_200


def test_time_moving_on_and_back(services, clock):
    """A deal closed after the kept moment leaves the open deals then without a read; an earlier
    moment than the kept one is read afresh."""
    db = services.db
    won = _stages(db, "won")[0]
    deals = [services.create_deal(f"D{i}", amount="100").id for i in range(3)]
    memo: dict = {}
    start = clock.now
    clock.advance(hours=2)
    views(db, memo, clock.now)
    clock.advance(hours=2)
    services.move_deal(deals[0], won)
    clock.advance(hours=2)
    kept_view, fresh_view = views(db, memo, clock.now)
    assert kept_view == fresh_view and sorted(fresh_view["deals"]) == sorted(deals[1:])
    kept_view, fresh_view = views(db, memo, start + dt.timedelta(hours=1))
    assert kept_view == fresh_view and sorted(fresh_view["deals"]) == sorted(deals)
    assert np.all(memo["forecast_open"].raw.ids == np.array(sorted(deals)))


def test_a_customer_deleted_behind_the_services_back_takes_its_open_deals_out(services, clock, monkeypatch):
    db = services.db
    customer = services.create_customer(name="Acme").id
    theirs = services.create_deal("Theirs", amount="100", customer_id=customer).id
    other = services.create_deal("Other", amount="100").id
    memo: dict = {}
    assert sorted(views(db, memo, clock.now)[0]["deals"]) == sorted([theirs, other])
    sizes = reads_of(monkeypatch)
    with db.write({"customer"}, journal=False) as s:
        s.execute(text("UPDATE customer SET deleted_at = :at WHERE id = :c"), {"at": clock.now, "c": customer})
    kept_view, fresh_view = views(db, memo, clock.now)
    assert kept_view == fresh_view and list(fresh_view["deals"]) == [other] and sizes == [1, None]
