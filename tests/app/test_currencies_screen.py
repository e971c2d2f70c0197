"""The Currencies screen with keys: $ on Reports opens it (the palette's "Currencies" too), n adds a
rate, e changes it, d removes it after asking; the Reports bar says which currency its money is in."""

from __future__ import annotations

from decimal import Decimal

import pytest

pytestmark = pytest.mark.keys_only


async def test_rates_are_added_changed_and_removed_with_keys(make_app, until, opened, palette, services):
    services.create_deal("yen deal", amount="1000", currency="JPY")
    app = make_app("reports")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "ReportsScreen", what="Reports")
        bar = app.screen.query_one("#reports-bar")
        await until(pilot, lambda: "JPY left out" in str(bar.render()), what="the note on the left-out yen")
        assert "money in USD" in str(bar.render())
        await pilot.press("dollar_sign")
        screen = await opened(pilot, "CurrenciesScreen")
        await until(pilot, lambda: screen.book is not None, what="the rates")
        assert screen.book.home == "USD" and screen.book.rates == ()
        await pilot.press("n")
        await opened(pilot, "FormScreen")
        await pilot.press(*"jpy", "enter", *"0.0067", "enter", "enter")
        await until(pilot, lambda: screen.book is not None and len(screen.book.rates) == 1, what="the new rate")
        assert (screen.book.rates[0].currency, screen.book.rates[0].rate) == ("JPY", Decimal("0.0067"))
        await pilot.press("e")
        await opened(pilot, "FormScreen")
        await pilot.press("tab", "ctrl+u", *"0.007", "ctrl+s")
        await until(pilot, lambda: screen.book.rates[0].rate == Decimal("0.007"), what="the changed rate")
        await pilot.press("d")
        confirm = await opened(pilot, "ConfirmScreen")
        await until(pilot, lambda: confirm.answerable, what="the question drawn")
        await pilot.press("y")
        await until(pilot, lambda: screen.book.rates == (), what="the rate removed")
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "ReportsScreen", what="back on Reports")
        await palette(pilot, "Currencies")
        await pilot.press("enter")
        await opened(pilot, "CurrenciesScreen")
