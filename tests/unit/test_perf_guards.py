"""Small, fast guards for what keeps crm-tui fast at 100k customers (not timings:
benchmarks/run.py measures those). Each fails when a change brings back the slow way."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import event

from crm_tui.queries.customers import CustomerFilter, count_customers, fetch_page
from crm_tui.queries.first_page import quick_first_page, read_ahead, sqlite_file
from crm_tui.queries.pipeline import load_board


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_app_and_its_first_screen_import_no_pandas_sqlmodel_or_sqlalchemy():
    """First paint must not wait for the heavy imports (they load in a worker after it)."""
    out = run(
        """
        import sys
        import crm_tui.tui.app
        from crm_tui.tui.screens.customers import CustomersScreen
        CustomersScreen()
        heavy = {"pandas", "sqlmodel", "sqlalchemy", "numpy"}
        print(sorted({m.split(".")[0] for m in sys.modules} & heavy))
        """
    )
    assert out == "[]"


def statements(db):
    seen: list[str] = []

    def listen(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    return seen, lambda: event.remove(db.engine, "before_cursor_execute", listen)


def test_the_board_reads_its_cards_per_column_not_per_card(db, services, clock):
    """At most one card query per column (and a fixed number of others) per reload, however
    many deals: never a query per card."""
    counts = []
    for batch in (3, 30):
        for i in range(batch):
            customer = services.create_customer(name=f"Customer {batch}-{i}")
            deal = services.create_deal(f"Deal {batch}-{i}", customer_id=customer.id, amount="10")
            if i % 2:
                services.move_deal_step(deal.id, 1)  # tasks from the stage's template
        seen, stop = statements(db)
        try:
            board = load_board(db, None, now=clock())
        finally:
            stop()
        cards = sum(len(v) for v in board.cards.values())
        assert cards >= batch
        card_queries = [s for s in seen if "deal.title" in s and "FROM deal" in s]
        assert 1 <= len(card_queries) <= len(board.stages), card_queries
        counts.append(len(seen))
    assert counts[0] == counts[1]  # 3 or 33 deals: the same statements


@pytest.mark.sqlite_only
def test_every_board_header_is_summed_from_an_index_without_table_reads(db, db_path, services, clock):
    """A month of closed deals can be tens of thousands of rows: the won/lost headers, like the
    open ones, must be answered by a covering index, not a table read per deal."""
    seen: list[tuple[str, tuple]] = []

    def listen(conn, cursor, statement, params, context, executemany):
        seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        load_board(db, None, now=clock())
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    headers = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT COUNT(DEAL.ID)")]
    assert len(headers) == 6  # one per stage of the default pipeline
    raw = sqlite3.connect(db_path)
    try:
        for statement, args in headers:
            plan = " ".join(row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, args))
            assert "COVERING INDEX" in plan, (statement, plan)
    finally:
        raw.close()


@pytest.mark.sqlite_only
def test_search_uses_the_text_index_and_it_follows_every_change(db, services):
    """3+ letters are answered by the trigram index (not by reading every row), and the
    index stays right after an insert, a rename and a delete."""
    acme = services.create_customer(name="Acme Rockets", email="boss@acme.example")
    services.create_customer(name="Zenith Labs", industry="Rocketry")
    seen, stop = statements(db)
    try:
        found = fetch_page(db, CustomerFilter(text="rocket"))
    finally:
        stop()
    assert {r.name for r in found} == {"Acme Rockets", "Zenith Labs"}
    assert any("customer_fts MATCH" in s for s in seen)
    services.update_customer(acme.id, name="Acme Balloons")
    assert [r.name for r in fetch_page(db, CustomerFilter(text="rocket"))] == ["Zenith Labs"]
    assert [r.name for r in fetch_page(db, CustomerFilter(text="balloon"))] == ["Acme Balloons"]
    assert count_customers(db, CustomerFilter(text="ACME.EX")) == 1  # email, any case
    with db.write({"customer"}) as session:  # a hard delete (imports may do it) leaves no stale entry
        session.connection().exec_driver_sql("DELETE FROM customer WHERE id = ?", (acme.id,))
    assert count_customers(db, CustomerFilter(text="balloon")) == 0


def test_one_or_two_letters_jump_to_names_starting_with_them(db, services):
    for name in ("Amber Mills", "Ambrose & Co", "Cambridge Amps", "Bamboo"):
        services.create_customer(name=name)
    assert [r.name for r in fetch_page(db, CustomerFilter(text="am"))] == ["Amber Mills", "Ambrose & Co"]
    assert count_customers(db, CustomerFilter(text="a")) == 2
    assert [r.name for r in fetch_page(db, CustomerFilter(text="amb"))] == [
        "Amber Mills",
        "Ambrose & Co",
        "Bamboo",
        "Cambridge Amps",
    ]


@pytest.mark.sqlite_only
def test_the_plain_sqlite_first_page_equals_the_full_query(db, db_path, services):
    """The first rows shown before SQLAlchemy loads are exactly the list's first page."""
    ids = []
    for i, name in enumerate(["delta", "Alpha", "charlie", "Bravo", "[red]echo[/red]", "Ärger", "alpha"]):
        c = services.create_customer(name=name, email=f"{i}@x.example", tags="vip" if i % 2 else "")
        ids.append(c.id)
    services.create_deal("open one", customer_id=ids[1], amount="12.34")
    services.create_deal("open two", customer_id=ids[1], amount="1")
    won = services.create_deal("won", customer_id=ids[2], amount="99")
    services.win_deal(won.id)
    services.delete_customer(ids[3])
    expected = fetch_page(db, limit=4)
    total, rows = quick_first_page(db_path, 4)
    assert total == count_customers(db) == 6
    assert rows == expected
    assert [r.keyset for r in rows] == [r.keyset for r in expected]  # later pages follow on by keyset
    assert rows[0].updated_at == expected[0].updated_at and rows[0].updated_at.tzinfo is not None


@pytest.mark.sqlite_only
def test_the_first_page_read_ahead_is_the_same_page(db, db_path, services):
    """The app starts this read as it is built; the screen takes the result when it mounts."""
    for name in ("Bravo", "alpha", "Charlie"):
        services.create_customer(name=name)
    assert read_ahead(str(db_path), 2).result(timeout=10) == quick_first_page(db_path, 2)
    assert read_ahead("postgresql+psycopg://u@h/db", 2) is None  # nothing to read simply
    assert read_ahead(db, 2) is None  # an open Database: the screen reads through it


def test_the_plain_sqlite_first_page_never_creates_or_misreads(tmp_path):
    missing = tmp_path / "none.sqlite3"
    assert sqlite_file(str(missing)) is None and not missing.exists()
    assert sqlite_file("postgresql+psycopg://u@h/db") is None
    foreign = tmp_path / "foreign.sqlite3"
    con = sqlite3.connect(foreign)
    con.execute("create table t(x)")
    con.close()
    assert sqlite_file(str(foreign)) == foreign
    assert quick_first_page(foreign, 10) is None  # not a crm-tui database: the normal path decides


def test_the_plain_sqlite_first_page_finds_the_same_default_database(tmp_path, monkeypatch):
    from crm_tui.db import default_db_path, resolve_db

    monkeypatch.delenv("CRM_TUI_DB", raising=False)
    default = default_db_path()
    assert sqlite_file(None) is None  # nothing there yet, and nothing created
    default.parent.mkdir(parents=True, exist_ok=True)
    default.write_bytes(b"")
    assert sqlite_file(None) == Path(resolve_db(None)) == default
    chosen = tmp_path / "chosen.sqlite3"
    chosen.write_bytes(b"")
    monkeypatch.setenv("CRM_TUI_DB", str(chosen))
    assert sqlite_file(None) == Path(resolve_db(None)) == chosen


@pytest.mark.sqlite_only
def test_a_narrow_search_is_led_by_the_text_index_and_a_broad_one_by_the_sort_index(db, db_path, services):
    """A few matches: fetch them by id (the text index's match list) and sort them. Many: walk the name
    index and stop after a page. Either way round the wrong plan costs 10–40 ms a keystroke at 100k
    customers.
    (Here, 5 rows of a 9-customer book: 1 match drives, 8 are probed — the crossover is matches² = rows × book.)"""
    for i in range(8):
        services.create_customer(name=f"Wide Match {i}")
    services.create_customer(name="Narrowly Unique")
    raw = sqlite3.connect(db_path)
    try:
        for text, leader in (("unique", "INTEGER PRIMARY KEY"), ("match", "ix_customer_live_name")):
            seen: list = []

            def listen(conn, cursor, statement, params, context, executemany):
                seen.append((statement, params))

            event.listen(db.engine, "before_cursor_execute", listen)
            try:
                rows = fetch_page(db, CustomerFilter(text=text), limit=5)
            finally:
                event.remove(db.engine, "before_cursor_execute", listen)
            assert rows and all(text in r.name.lower() for r in rows)
            statement, params = next((s, p) for s, p in seen if "WITH page" in s)
            plan = [row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, params)]
            first = next(step for step in plan if step.startswith(("SEARCH customer", "SCAN customer ")))
            assert leader in first, (text, plan)
    finally:
        raw.close()


@pytest.mark.sqlite_only
def test_a_search_keystroke_reads_its_rows_and_count_in_one_read_without_every_match_in_python(db, services):
    """A new search's first rows and its count come from one read. A narrow search asks the
    text index once: its match list is what the page fetches and what counts. A broad one
    takes at most the plan's crossover worth of ids from the index (not 40,000 ids through
    Python), then the page probes the index. Statements are built once per shape."""
    import crm_tui.queries.customers as queries
    from crm_tui.queries.customers import Sort, first_page

    for i in range(8):
        services.create_customer(name=f"Wide Match {i}")
    services.create_customer(name="Narrowly Unique")
    gone = services.create_customer(name="Wide Match gone")
    services.delete_customer(gone.id)
    for text, total in (("unique", 1), ("match", 8)):
        seen: list = []

        def listen(conn, cursor, statement, params, context, executemany):
            seen.append((statement, params))

        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            rows, count = first_page(db, CustomerFilter(text=text), Sort("name"), 2)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        assert count == total == count_customers(db, CustomerFilter(text=text))
        assert rows == fetch_page(db, CustomerFilter(text=text), limit=2)
        assert sum(s.startswith("BEGIN") for s, _p in seen) == 1  # one read
        lookups = [(s, p) for s, p in seen if "customer_fts MATCH" in s]
        listed = [p for s, p in lookups if s.startswith("SELECT rowid FROM customer_fts")]
        assert len(listed) == 1 and listed[0][-1] <= queries._most_driving(2, 10) + 1  # a bounded list
        if text == "unique":
            assert len(lookups) == 1  # the list drives the page and is the count
    built = queries._page_statement.cache_info().misses
    first_page(db, CustomerFilter(text="wide"), Sort("name"), 2)  # same shape, new words
    assert queries._page_statement.cache_info().misses == built


def test_the_warm_up_builds_every_search_statement_before_the_first_keystroke(db, services):
    """The first keystroke of each kind of search — one or two letters, few text-index
    matches, many — would otherwise build and compile its statements (~10 ms each at 100k
    customers). The warm-up's rehearsal matches nothing and builds them all."""
    import crm_tui.queries.customers as queries
    from crm_tui.queries.customers import Sort, first_page, rehearse_search

    for i in range(8):
        services.create_customer(name=f"Wide Match {i}")
    services.create_customer(name="Narrowly Unique")
    for cached in (queries._where, queries._page_statement, queries._count_statement):
        cached.cache_clear()
    ran: list = []

    def listen(conn, cursor, statement, params, context, executemany):
        ran.append((statement, getattr(context, "compiled_parameters", None) or [{}]))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        rehearse_search(db)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    pages = [bound[0]["page_limit"] for _s, bound in ran if "page_limit" in bound[0]]
    assert pages and set(pages) == {0}  # no page walked
    assert not [s for s, _b in ran if "count(" in s and " LIKE " in s.upper()]  # no table counted
    built = queries._page_statement.cache_info().misses
    assert built >= 2  # one or two letters, and longer text (two shapes of it with a text index)
    counted = queries._count_statement.cache_info().misses
    found = {text: first_page(db, CustomerFilter(text=text), Sort("name"), 2)[1] for text in ("wi", "unique", "match")}
    assert found == {"wi": 8, "unique": 1, "match": 8}  # and the rehearsal left no trace in them
    assert queries._page_statement.cache_info().misses == built
    assert queries._count_statement.cache_info().misses == counted


def test_an_orders_page_reads_its_lines_per_page_not_per_order(db, services):
    """One statement for a page of orders (their customer, line count and total joined to the
    page's ids), however many orders and lines: never a query per order."""
    from crm_tui.queries.orders import OrderFilter, fetch_orders, first_orders

    customer = services.create_customer(name="Acme")
    product = services.create_product("Racks", "10")
    counts = []
    for batch in (3, 30):
        for i in range(batch):
            services.create_order(customer.id, [(product.id, 1 + i), (product.id, 2)])
        for filt in (OrderFilter(), OrderFilter(status="draft", owner="ann")):
            seen, stop = statements(db)
            try:
                rows = fetch_orders(db, filt, limit=1000)
                fetch_orders(db, filt, after=rows[1].id, limit=10)
                first_orders(db, filt, 2)  # a full first page: its count too
            finally:
                stop()
            assert all(r.lines == 2 for r in rows)
            counts.append(len([s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]))
    assert counts[:2] == counts[2:]  # 3 or 33 orders: the same statements


@pytest.mark.sqlite_only
def test_an_orders_page_seeks_its_index_at_any_depth(db, db_path, services):
    """The next page starts by seeking the primary key below the last id (never an OFFSET walk),
    a status filter walks the status index, and the page's lines come from the order_id index:
    the page costs the same at row 50,000 as at row 0 (benchmarks/orders_bench.py measures it)."""
    from crm_tui.queries.orders import OrderFilter, fetch_orders

    customer = services.create_customer(name="Acme")
    product = services.create_product("Racks", "10")
    for _ in range(5):
        services.create_order(customer.id, [(product.id, 1)])
    raw = sqlite3.connect(db_path)
    try:
        for filt, leader in (
            (OrderFilter(), "INTEGER PRIMARY KEY (rowid<?)"),
            (OrderFilter(status="draft"), "INDEX ix_order_status (status=? AND rowid<?)"),
        ):
            seen: list = []

            def listen(conn, cursor, statement, params, context, executemany):
                seen.append((statement, params))

            event.listen(db.engine, "before_cursor_execute", listen)
            try:
                assert fetch_orders(db, filt, after=4, limit=2)
            finally:
                event.remove(db.engine, "before_cursor_execute", listen)
            statement, params = next((s, p) for s, p in seen if "WITH page" in s)
            plan = " | ".join(row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, params))
            assert f"SEARCH sales_order USING {leader}" in plan, (filt, plan)
            assert "SCAN sales_order" not in plan, plan
            assert "SEARCH order_line USING INDEX ix_order_line_order_id (order_id=?)" in plan, plan
    finally:
        raw.close()


@pytest.mark.sqlite_only
def test_the_forecasts_open_deals_are_found_through_the_close_time_index(db, db_path, services, clock):
    """After a change the forecast reads only the deals open now: through the index of close times
    (a few deals), never the index of creation times (every deal created before now: nearly the
    book, read row by row — 1.3 s instead of 0.16 s at 300,000 customers); and of the journal only
    the entries after now."""
    from crm_tui.metrics.forecast_read import read_book

    services.win_deal(services.create_deal("won", amount="5").id)
    services.create_deal("open", amount="7")
    seen: list[str] = []
    with db.read() as session:
        conn = session.connection()
        raw = conn.connection.driver_connection
        raw.set_trace_callback(seen.append)
        try:
            book = read_book(conn, open_at=clock())
        finally:
            raw.set_trace_callback(None)
    assert len(book) == 1
    (deals,) = [s for s in seen if "group_concat(deal.id" in s]
    (journal,) = [s for s in seen if "FROM journal_change" in s]
    check = sqlite3.connect(db_path)
    try:
        plan = " | ".join(row[-1] for row in check.execute("EXPLAIN QUERY PLAN " + deals))
        journal_plan = " | ".join(row[-1] for row in check.execute("EXPLAIN QUERY PLAN " + journal))
    finally:
        check.close()
    assert "ix_deal_closed" in plan and "ix_deal_created" not in plan, plan
    # and the journal's entries after now through its index of times, not each open deal's entries
    assert "ix_journal_at (at>?)" in journal_plan, journal_plan
