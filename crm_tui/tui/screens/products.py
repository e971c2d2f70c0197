"""The product catalogue: every product with its code, list price and the deals and orders that carry it.

Opened from Orders (``P``) or the palette ("Products"), on top of the screen the rep was on: escape
goes back. ``n`` adds a product, ``e`` edits one, ``d`` retires it (no longer offered for new lines;
the deals and orders that have it keep it) or offers it again, ``r`` shows the retired ones too. Read
by one worker; every change goes through the services as one journal entry (``ctrl+z``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable, Static

from crm_tui import validate as v
from crm_tui.queries.products import CatalogueRow
from crm_tui.textnorm import money_text
from crm_tui.tui.literal import safe
from crm_tui.tui.modals.confirm import ConfirmScreen
from crm_tui.tui.modals.form import Field, FormScreen
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.validate import Check

PRODUCT_FIELDS = (
    Field("name", "Product", placeholder="Cloud CRM seat (annual)"),
    Field("code", "Code", placeholder="your SKU or article number; optional"),
    Field("unit_price", "List price", placeholder="e.g. 480 or 1,200.50; new lines start at it"),
)
PRODUCT_CHECKS: dict[str, Check] = {
    "name": partial(v.text, field="product name", required=True),
    "code": partial(v.text, field="code", max_len=64),
    "unit_price": partial(v.money, field="unit price"),
}


class ProductsScreen(CrmScreen):
    CSS_PATH = "products.tcss"
    WATCHES = frozenset({"product", "deal_product", "order_line", "deal", "journal"})
    BINDINGS = [
        Binding("escape", "back", "Back", id="products.back", tooltip="Back to where you came from"),
        Binding("n", "new_product", "New", id="products.new", tooltip="New product: name, code, list price"),
        Binding("e", "edit_product", "Edit", id="products.edit",
                tooltip="Edit the highlighted product's name, code or list price"),
        Binding("d", "retire", "Retire", id="products.retire",
                tooltip="Retire the highlighted product (its deals and orders keep it), or offer it again"),
        Binding("r", "show_retired", "Retired", id="products.show_retired",
                tooltip="Show the retired products too, or hide them again"),
    ]  # fmt: skip

    show_retired: var[bool] = var(False, init=False)

    class Loaded(Message):
        def __init__(self, rows: list[CatalogueRow]) -> None:
            super().__init__()
            self.rows = rows

    class Counted(Message):
        """The deals and orders that carry each product: read after the list, which shows first."""

        def __init__(self, rows: list[CatalogueRow]) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[CatalogueRow] = []
        self.counted = False  # the rows' deal and order counts are read (they come after the list)

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="products-head")
        yield DataTable(id="products-table", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Code", "Product", "List price", "Deals", "Orders", "")
        self.set_focus(table)

    def watch_show_retired(self) -> None:
        self.reload()

    def reload(self) -> None:
        if self.app.db is not None:
            self._load(self.show_retired)

    @work(thread=True, exclusive=True, group="products-load", exit_on_error=False)
    def _load(self, retired: bool) -> None:
        from dataclasses import replace

        from crm_tui.queries.products import catalogue, usage_counts

        db = self.app.db
        assert db is not None  # reload() starts this only once the database is open
        rows = catalogue(db, retired=retired, counts=False)
        self.post_message(self.Loaded(rows))
        deals, orders = usage_counts(db)
        counted = [replace(r, deals=deals.get(r.id, 0), orders=orders.get(r.id, 0)) for r in rows]
        self.post_message(self.Counted(counted))

    @on(Loaded)
    @on(Counted)
    def _loaded(self, event: Loaded | Counted) -> None:
        self.counted = counted = isinstance(event, ProductsScreen.Counted)
        self.rows = event.rows
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        for row in event.rows:
            dim = "dim" if row.retired else ""
            table.add_row(
                Text(safe(row.code) or "—", style=dim),
                Text(safe(row.name), style=dim),
                Text(money_text(row.unit_price_cents, row.currency), style=dim, justify="right"),
                Text(f"{row.deals:,}" if counted else "…", style=dim, justify="right"),
                Text(f"{row.orders:,}" if counted else "…", style=dim, justify="right"),
                Text("retired" if row.retired else "", style="italic"),
                key=str(row.id),
            )
        if event.rows:
            table.move_cursor(row=min(max(keep, 0), len(event.rows) - 1))
        offered = sum(not r.retired for r in event.rows)
        head = Text.assemble(("Products  ", "bold"), (f"{offered:,} offered", ""))
        if not event.rows:
            head.append(" · none yet: n adds the first (name, code, list price)", style="dim")
            self.query_one("#products-head", Static).update(head)
            return
        if self.show_retired:
            head.append(f" · {len(event.rows) - offered:,} retired shown (r hides them)", style="dim")
        else:
            head.append(" · r shows the retired ones too", style="dim")
        self.query_one("#products-head", Static).update(head)

    def _row(self) -> CatalogueRow | None:
        row = self.query_one(DataTable).cursor_row
        if 0 <= row < len(self.rows):
            return self.rows[row]
        self.notify("No product highlighted: n adds one", severity="warning", timeout=3)
        return None

    # -- actions --------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_show_retired(self) -> None:
        self.show_retired = not self.show_retired

    def action_new_product(self) -> None:
        services = self.app.services
        if services is None:
            return
        form = FormScreen(
            "New product",
            lambda values: services.create_product(values["name"], values["unit_price"], code=values["code"]),
            fields=PRODUCT_FIELDS,
            checks=PRODUCT_CHECKS,
        )
        self.app.push_screen(form, self.said_when_saved("Product added: the order form offers it now"))

    def action_edit_product(self) -> None:
        row, services = self._row(), self.app.services
        if row is None or services is None:
            return
        pid = row.id

        def save(values: dict[str, Any]) -> Any:
            return services.update_product(
                pid, name=values["name"], code=values["code"], unit_price=values["unit_price"]
            )

        values = {"name": row.name, "code": row.code, "unit_price": money_text(row.unit_price_cents).replace(",", "")}
        form = FormScreen(
            f"Edit product '{row.name}'", save, fields=PRODUCT_FIELDS, values=values, checks=PRODUCT_CHECKS
        )
        self.app.push_screen(form, self.said_when_saved("Product saved (lines already made keep their price)"))

    def action_retire(self) -> None:
        row, services = self._row(), self.app.services
        if row is None or services is None:
            return
        pid, name = row.id, row.name
        if row.retired:
            self.run_service(lambda: services.restore_product(pid), success=f"'{safe(name)}' is offered again")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_service(
                    lambda: services.retire_product(pid),
                    success=f"Retired '{safe(name)}' (ctrl+z offers it again)",
                )

        carried = (
            f"Its {row.deals:,} deals and {row.orders:,} orders" if self.counted else "The deals and orders with it"
        )
        detail = f"{carried} keep it; new lines can no longer pick it."
        self.app.push_screen(ConfirmScreen(f"Retire '{name}'?", detail, confirm_label="Retire"), answered)
