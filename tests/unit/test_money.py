"""Totals converted to the home currency: exact, rounded once per currency, never guessing a rate."""

from __future__ import annotations

from decimal import Decimal

from crm_tui import models
from crm_tui.money import Rates, load_rates, parse_rate


def test_convert_rounds_each_currency_sum_half_to_even_and_reports_missing_rates():
    rates = Rates(home="USD", per_unit={"EUR": Decimal("1.085"), "GBP": Decimal("1.2")})
    # 1,000.01 EUR = 1,085.01085 USD -> 108501 cents; 0.05 GBP at 1.2 = 6 cents; 2.50 USD as is
    done = rates.convert([("EUR", 100001), ("gbp", 5), ("USD", 250), ("JPY", 9999)])
    assert done.cents == 108501 + 6 + 250
    assert done.missing == frozenset({"JPY"})
    assert rates.to_home(5, "EUR") == 5  # 5.425 -> 5 (half to even only matters at .5)
    assert rates.to_home(2, "EUR") == 2  # 2.17 -> 2
    assert Rates(home="EUR", per_unit={}).to_home(7, "") == 7  # blank currency is the home one


def test_parse_rate_refuses_what_is_not_a_positive_number():
    assert parse_rate("1.08") == Decimal("1.08")
    for bad in ("0", "-1", "abc", "NaN", "Infinity", ""):
        assert parse_rate(bad) is None, bad


def test_load_rates_reads_home_currency_and_rates(db):
    with db.write(["currency_rate", "crm_meta"]) as session:
        session.add(models.Meta(key="home_currency", value="eur"))
        session.add(models.CurrencyRate(currency="USD", rate="0.92"))
    with db.read() as session:
        rates = load_rates(session)
    assert rates.home == "EUR"
    assert rates.to_home(10000, "USD") == 9200 and rates.to_home(10000, "EUR") == 10000
