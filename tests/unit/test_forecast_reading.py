"""Reading the book into arrays on SQLite (comma-joined columns parsed by numpy): the same book
whatever the chunk size, and moments stored in another form than SQLAlchemy's (no fraction, a
``T``) are read too."""

from __future__ import annotations

import datetime as dt
import sqlite3

import numpy as np
import pytest
from test_forecast import make_book

from crm_tui.db import Database
from crm_tui.metrics import forecast_learn, forecast_model, forecast_read, sql_arrays


def book_fields(book):
    return {
        f: (getattr(book, f).tolist() if isinstance(getattr(book, f), np.ndarray) else getattr(book, f))
        for f in book.__dataclass_fields__
    }


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "crm.sqlite3"
    db = Database.open(str(path))
    make_book(db)
    db.close()
    return path


def test_the_same_book_in_chunks_of_any_size(path, monkeypatch):
    db = Database.open(str(path))
    try:
        whole = book_fields(forecast_read.load_book(db))
        monkeypatch.setattr(sql_arrays, "CHUNK", 2)
        assert book_fields(forecast_read.load_book(db)) == whole
        assert len(whole["ids"]) == 5 and len(whole["move_at"]) == 11
    finally:
        db.close()


def test_moments_stored_otherwise_are_read_too(path):
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE stage_change SET at = '2026-02-25 09:00:00' WHERE at LIKE '2026-02-25%'")
        con.execute("UPDATE deal SET created_at = '2026-02-20T09:00:00.000000' WHERE title = 'E'")
    db = Database.open(str(path))
    try:
        book = forecast_read.load_book(db)
        e = book.ids.tolist().index(db_id(path, "E"))
        assert book.created[e] == forecast_model._us(dt.datetime(2026, 2, 20, 9, tzinfo=dt.UTC))
        assert forecast_model._us(dt.datetime(2026, 2, 25, 9, tzinfo=dt.UTC)) in book.move_at.tolist()
    finally:
        db.close()


def db_id(path, title):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT id FROM deal WHERE title = ?", (title,)).fetchone()[0]
    finally:
        con.close()


def test_the_same_book_whatever_order_the_rows_come_in(path, monkeypatch):
    """PostgreSQL (and SQLite read row by row) hand rows over in no particular order: the book is
    the same as the one read in id order, moves of a deleted deal left out either way."""
    con = sqlite3.connect(path)
    with con:  # a deleted deal whose moves stay in the history
        con.execute("UPDATE deal SET deleted_at = '2026-03-01 00:00:00.000000' WHERE title = 'E'")
    con.close()
    db = Database.open(str(path))
    try:
        in_order = book_fields(forecast_read.load_book(db))
        read = forecast_read.columns

        def shuffled(conn, table, columns, where, **kw):
            out = read(conn, table, columns, where, **kw)
            order = np.random.default_rng(7).permutation(len(out[0]))
            return [[c[i] for i in order] if isinstance(c, list) else c[order] for c in out]

        monkeypatch.setattr(forecast_read, "columns", shuffled)
        assert book_fields(forecast_read.load_book(db)) == in_order
        assert len(in_order["ids"]) == 4
    finally:
        db.close()


def test_the_open_deals_read_keeps_what_the_journal_says_changed_after_its_moment(db, services, clock):
    """Applying the kept forecast reads only the deals open now and the journaled changes after now
    (the journal's index of times): a deal's amount and expected close as they were at that moment,
    the same as from the whole book — before, between and after two edits (both engines)."""
    start = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    clock.now = start
    won = services.create_deal("history", amount="50")
    services.win_deal(won.id)
    deal = services.create_deal("edited", amount="100", expected_close="2026-03-20")
    services.create_deal("steady", amount="70")
    clock.now = start + dt.timedelta(days=10)
    services.update_deal(deal.id, amount="300", expected_close="2026-05-20")
    clock.now = start + dt.timedelta(days=20)
    services.update_deal(deal.id, amount="500")
    for days in (5, 15, 25):
        now = start + dt.timedelta(days=days)
        with db.read() as session:
            conn = session.connection()
            whole = forecast_read.read_book(conn)
            learned = forecast_learn.learn(whole, months=3, now=now)
            open_now = forecast_read.read_book(conn, open_at=now)
        assert forecast_learn.apply_learned(learned, open_now, now=now) == forecast_learn.apply_learned(
            learned, whole, now=now
        ), days
