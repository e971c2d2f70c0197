"""Multi-currency: every total converted to the home currency, a currency with no rate left out and
named, rates set, imported and re-expressed when the home currency changes, orders in one currency.

The book, worked out by hand (home USD; 1 EUR = 1.10 USD, 1 GBP = 1.25 USD):

- open: 1,000.00 EUR at 50% + 500.00 USD at 20% → value 1,100 + 500 = 1,600.00 USD,
  weighted 550 + 100 = 650.00 USD;
- won: 200.00 GBP → 250.00 USD (customer value, won value, revenue of the month);
- an order of 3 × 10.00 EUR → 30 EUR = 33.00 USD.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy import event

from crm_tui import cli
from crm_tui.errors import ValidationError
from crm_tui.metrics import report, stage_summaries
from crm_tui.queries.customer_detail import customer_detail
from crm_tui.queries.customers import fetch_page
from crm_tui.queries.orders import fetch_orders, order_summary
from crm_tui.queries.pipeline import load_board
from crm_tui.report import render

NOW = dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def book(services, clock):
    s = services
    clock.now = NOW
    s.set_rate("EUR", "1.10")
    s.set_rate("gbp", "1.25", as_of="2026-03-01")
    acme = s.create_customer(name="Acme")
    s.create_deal("euro", customer_id=acme.id, amount="1000", currency="EUR", probability=50)
    s.create_deal("dollar", customer_id=acme.id, amount="500", probability=20)  # the home currency by default
    won = s.create_deal("pound", customer_id=acme.id, amount="200", currency="GBP")
    s.win_deal(won.id)
    widget = s.create_product("widget", "10", currency="EUR")
    s.create_order(acme.id, [(widget.id, 3)])
    return s


def test_every_total_is_converted_to_the_home_currency(book):
    r = report(book.db, now=NOW)
    assert r["currency"] == "USD" and "unconverted" not in r
    d = r["deals"]
    assert (d["open_count"], d["open_value"], d["weighted_value"]) == (2, 1600, 650)
    assert (d["won_value"], d["avg_won_value"]) == (250, 250)
    assert r["customers"]["value"] == 250
    assert r["orders"]["value"] == 33
    assert r["revenue_by_month"] == [{"month": "2026-03", "won_value": 250}]
    assert sum(s["value"] for s in r["segments"]) == 250
    assert [(o["owner"], o["won_value"]) for o in r["owners"]] == [(book.user, 250)]
    board = load_board(book.db, None, now=NOW)
    lead = board.stages[0]
    assert (board.currency, board.headers[lead.id].value_cents, board.headers[lead.id].weighted_cents) == (
        "USD",
        160000,
        65000,
    )
    assert {c.currency for c in board.cards[lead.id]} == {"EUR", "USD"}  # a card keeps its own currency
    summary = {x.name: x for x in stage_summaries(book.db, board.pipeline_id)}
    assert summary[lead.name].value_cents == 160000
    [acme] = fetch_page(book.db)
    assert acme.open_value_cents == 160000  # the customers' column
    assert customer_detail(book.db, acme.id).open_total().cents == 160000  # the customer page's heading
    orders = order_summary(book.db)
    assert (orders.of("draft").total_cents, orders.currency, orders.mixed) == (3300, "USD", True)
    [row] = fetch_orders(book.db)
    assert (row.total_cents, row.currency) == (3000, "EUR")  # one order: in its own currency


def test_the_forecast_learns_and_weighs_in_the_home_currency(book):
    from crm_tui.metrics.forecast import forecast_book, load_book

    past = load_book(book.db)
    assert {d.currency for d in past.deals} == {"USD"} and not past.missing
    euro = next(d for d in past.deals if d.amount_cents == 110000)  # 1,000 EUR at 1.10
    assert {d.amount_cents for d in past.deals} == {110000, 50000, 25000}  # 200 GBP at 1.25
    p = past.probability[euro.moves[0][1]]  # its stage's win %, the forecast's weighting (both open deals')
    assert p > 0
    [month, *_] = forecast_book(past, months=1, now=NOW)
    assert month.weighted_cents == (110000 + 50000) * p // 100  # 1,000 EUR → 1,100 USD, + 500 USD
    book.create_deal("yen", amount="1000000", currency="JPY", probability=50)
    past = load_book(book.db)
    assert past.missing == {"JPY"} and 0 in {d.amount_cents for d in past.deals}  # no rate: counts 0, not 1:1


def test_a_currency_with_no_rate_is_left_out_and_named(book):
    book.create_deal("yen", amount="1000000", currency="JPY", probability=50)
    r = report(book.db, now=NOW)
    assert r["unconverted"] == ["JPY"]
    assert (r["deals"]["open_count"], r["deals"]["open_value"]) == (3, 1600)  # counted as a deal, not as money
    assert "JPY left out: no rate — set one with `crm-tui rates set JPY RATE`" in render(r, "text")
    board = load_board(book.db, None, now=NOW)
    assert board.missing == {"JPY"} and board.headers[board.stages[0].id].value_cents == 160000
    book.set_rate("JPY", "0.0067")
    r = report(book.db, now=NOW)
    assert "unconverted" not in r and r["deals"]["open_value"] == 1600 + 6700
    book.undo()  # a rate is one journaled change: ctrl+z takes it back
    assert report(book.db, now=NOW)["unconverted"] == ["JPY"]


def test_changing_the_home_currency_re_expresses_the_rates(book):
    with pytest.raises(ValidationError, match="CHF has no rate yet.*crm-tui rates set CHF"):
        book.set_home("CHF")
    with pytest.raises(ValidationError, match="home currency"):
        book.set_rate("USD", "1")
    book.set_home("EUR")
    rates = book.rate_book()
    assert rates.home == "EUR"
    assert {r.currency: r.rate for r in rates.rates} == {
        "USD": Decimal("0.909090909091"),
        "GBP": Decimal("1.13636363636"),
    }
    r = report(book.db, now=NOW)
    # 1,000 EUR + 500 USD × 0.909090909091 = 1,000 + 454.55 = 1,454.55 EUR
    assert (r["currency"], r["deals"]["open_value"]) == ("EUR", 1454.55)
    with pytest.raises(ValidationError, match="cannot be undone; change it back"):
        book.undo()  # the rates alone would go back under the wrong home
    book.set_home("USD")  # and back: the rates as they were
    assert {r.currency: r.rate for r in book.rate_book().rates} == {"EUR": Decimal("1.1"), "GBP": Decimal("1.25")}


def test_an_order_is_priced_in_one_currency(book):
    euro = book.create_product("euro thing", "1", currency="EUR")
    dollar = book.create_product("dollar thing", "1")
    with pytest.raises(ValidationError, match=r"mix them \('euro thing' in EUR, 'dollar thing' in USD\)"):
        book.create_order(1, [(euro.id, 1), (dollar.id, 1)])  # the fixture's customer, Acme, is id 1
    order = book.create_order(1, [(euro.id, 2)])
    assert order.currency == "EUR"
    with pytest.raises(ValidationError, match="one currency"):
        book.add_order_line(order.id, dollar.id, 1)
    assert book.set_order_lines(order.id, [(dollar.id, 1)]).currency == "USD"  # all its lines: USD now
    with pytest.raises(ValidationError, match="3-letter code"):
        book.create_deal("bad", amount="1", currency="E$")


@pytest.mark.sqlite_only
def test_the_converted_report_and_board_sums_stay_index_only(book, db_path):
    """Grouping by currency too must not bring back table reads: the deal indexes end with it. The
    report's deal cells are no longer grouped from the deals at all: it sums the kept figures."""
    seen: list[tuple[str, tuple]] = []

    def listen(conn, cursor, statement, params, context, executemany):
        seen.append((statement, params))

    event.listen(book.db.engine, "before_cursor_execute", listen)
    try:
        report(book.db, now=NOW)
        load_board(book.db, None, now=NOW)
    finally:
        event.remove(book.db.engine, "before_cursor_execute", listen)
    grouped = [(s, p) for s, p in seen if "GROUP BY" in s and "deal.currency" in s and "FROM deal" in s]
    cells = [x for x in grouped if "deal.owner" in x[0].split("GROUP BY")[1]]  # the report's grouped cells
    headers = [x for x in grouped if x[0].lstrip().upper().startswith("SELECT COUNT(DEAL.ID)")]
    assert not cells and len(headers) == 6
    assert any("FROM fig_deal" in s and "currency" in s for s, _ in seen)
    raw = sqlite3.connect(db_path)
    try:
        for statement, args in headers:
            steps = [row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, args)]
            reads = [step for step in steps if " deal " in f"{step} "]  # every step reading the deal table
            assert reads and all("COVERING INDEX" in step for step in reads), (statement, steps)
    finally:
        raw.close()


@pytest.mark.sqlite_only
def test_the_rates_command(db_path, tmp_path, capsys):
    def run(*args):
        code = cli.main(["--db", str(db_path), "rates", *args])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("set", "EUR", "1.08", "--as-of", "2026-03-01")[0] == 0
    code, out, _ = run("list")
    assert code == 0 and "home currency: USD" in out and "1 EUR = 1.08 USD  as of 2026-03-01" in out
    good = tmp_path / "rates.csv"
    good.write_text("Currency Code,Exchange Rate,Date\nGBP,1.27,2026-03-02\nCHF,1.13,\n", encoding="utf-8")
    code, out, _ = run("import", str(good))
    assert code == 0 and "imported 2 rate(s)" in out and "1 GBP = 1.27 USD" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("code,rate\nSEK,0.095\nXX,1\nNOK,-2\n", encoding="utf-8")
    code, _, err = run("import", str(bad))
    assert code == 2 and "row 3: a currency is a 3-letter code" in err and "row 4: the rate of NOK" in err
    assert "nothing imported" in err and "Traceback" not in err
    assert "SEK" not in run("list")[1]  # its good row was not written either
    code, _, err = run("set", "EUR", "zero")
    assert code == 2 and err.strip().splitlines()[-1].startswith("crm-tui: error: the rate of EUR must be")
    code, _, err = run("home", "JPY")
    assert code == 2 and "rates set JPY" in err
    code, out, _ = run("home", "EUR")
    assert code == 0 and "home currency: EUR" in out and "1 USD = 0.925925925926 EUR" in out
