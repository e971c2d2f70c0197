"""Currencies: the home currency every total is shown in, and the exchange rates that convert
each deal's and order's own currency to it.

Opened from Reports (``$``) or the palette ("Currencies"), on top of the screen the rep was on:
escape goes back. ``n`` adds a rate, ``e`` edits the highlighted one, ``d`` removes it (asks
first; its amounts are then left out of every total, which says so), ``h`` makes the highlighted
currency the home one (every rate is re-expressed in it). Read by one worker; every change goes
through the services as one journal entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from crm_tui.tui.literal import safe
from crm_tui.tui.modals.confirm import ConfirmScreen
from crm_tui.tui.modals.form import Field, FormScreen
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from crm_tui.services.currency import RateBook, RateRow

RATE_FIELDS = (
    Field("currency", "Currency", placeholder="a 3-letter code, e.g. EUR"),
    Field("rate", "Rate", placeholder="what one unit is worth in the home currency, e.g. 1.08"),
    Field("as_of", "As of", placeholder="the day the rate is from (YYYY-MM-DD); optional"),
)


class CurrenciesScreen(CrmScreen):
    CSS_PATH = "currencies.tcss"
    WATCHES = frozenset({"currency_rate", "crm_meta", "journal"})
    BINDINGS = [
        Binding("escape", "back", "Back", id="currencies.back", tooltip="Back to where you came from"),
        Binding("n", "new_rate", "New", id="currencies.new",
                tooltip="Add a currency's rate: what one unit is worth in the home currency"),
        Binding("e", "edit_rate", "Edit", id="currencies.edit", tooltip="Change the highlighted currency's rate"),
        Binding("d", "remove_rate", "Remove", id="currencies.remove",
                tooltip="Remove the highlighted rate (its amounts are then left out of totals)"),
        Binding("h", "make_home", "Make home", id="currencies.home",
                tooltip="Make the highlighted currency the home one (every rate is re-expressed in it)"),
    ]  # fmt: skip

    class Loaded(Message):
        def __init__(self, book: RateBook) -> None:
            super().__init__()
            self.book = book

    def __init__(self) -> None:
        super().__init__()
        self.book: RateBook | None = None

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="currencies-head")
        yield DataTable(id="currencies-table", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Currency", "Rate", "As of")
        self.set_focus(table)

    def reload(self) -> None:
        if self.app.services is not None:
            self._load()

    @work(thread=True, exclusive=True, group="currencies-load", exit_on_error=False)
    def _load(self) -> None:
        services = self.app.services
        assert services is not None  # reload() starts this only once the database is open
        self.post_message(self.Loaded(services.rate_book()))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.book = book = event.book
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        for row in book.rates:
            table.add_row(
                Text(safe(row.currency)),
                Text(f"{format(row.rate, 'f')} {safe(book.home)}", justify="right"),
                Text(row.as_of.isoformat() if row.as_of else "—"),
                key=row.currency,
            )
        if book.rates:
            table.move_cursor(row=min(max(keep, 0), len(book.rates) - 1))
        head = Text.assemble(("Currencies  ", "bold"), ("home ", ""), (safe(book.home), "bold"))
        if book.rates:
            head.append(" · every total is converted to it with these rates", style="dim")
        else:
            head.append(" · no rates yet: amounts in other currencies are left out of totals; n adds one", style="dim")
        self.query_one("#currencies-head", Static).update(head)

    def _row(self) -> RateRow | None:
        row = self.query_one(DataTable).cursor_row
        if self.book is not None and 0 <= row < len(self.book.rates):
            return self.book.rates[row]
        self.notify("No rate highlighted: n adds one", severity="warning", timeout=3)
        return None

    # -- actions --------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def _form(self, title: str, values: dict[str, Any] | None, message: str) -> None:
        services = self.app.services
        if services is None:
            return

        def save(values: dict[str, Any]) -> Any:
            return services.set_rate(values["currency"], values["rate"], as_of=values["as_of"] or None)

        form = FormScreen(title, save, fields=RATE_FIELDS, values=values)
        self.app.push_screen(form, self.said_when_saved(message))

    def action_new_rate(self) -> None:
        home = self.book.home if self.book else "the home currency"
        self._form(f"New rate (in {home})", None, "Rate saved: every total is converted with it")

    def action_edit_rate(self) -> None:
        row = self._row()
        if row is None or self.book is None:
            return
        values = {
            "currency": row.currency,
            "rate": format(row.rate, "f"),
            "as_of": row.as_of.isoformat() if row.as_of else "",
        }
        self._form(f"Rate of {row.currency} (in {self.book.home})", values, "Rate saved")

    def action_remove_rate(self) -> None:
        row, services = self._row(), self.app.services
        if row is None or services is None:
            return
        code = row.currency

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_service(lambda: services.remove_rate(code), success=f"Removed the rate of {code}")

        detail = f"Amounts in {code} are then left out of every total (which says so) until it has a rate again."
        self.app.push_screen(ConfirmScreen(f"Remove the rate of {code}?", detail, confirm_label="Remove"), answered)

    def action_make_home(self) -> None:
        row, services = self._row(), self.app.services
        if row is None or services is None:
            return
        code = row.currency

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_service(lambda: services.set_home(code), success=f"{code} is the home currency")

        detail = "Every total is shown in it from now on; the other rates are re-expressed in it."
        self.app.push_screen(
            ConfirmScreen(f"Make {code} the home currency?", detail, confirm_label="Make home"), answered
        )
