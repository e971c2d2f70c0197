"""The Orders section: every order, newest first, filtered by status and owner, with the
counts and totals of each status; approve, fulfil, cancel and edit with a key each.

Rows come a page at a time (``PAGE`` orders, a bounded LRU of pages) from
``crm_tui.queries.orders`` in thread workers, which post what they read back as messages; the
table (the line-API ``VirtualTable``) shows "…" for a row whose page has not arrived. The filter
is reactive state: a change to it, or to the data, starts a new *generation* (older workers'
results are dropped) and the cursor stays on the same order while it is still listed. The
summary per status is read by its own worker, so the rows never wait for it.

Which keys apply follows the highlighted order's status (``services.orders.TRANSITIONS``): a
draft can be approved, edited or cancelled, an approved order fulfilled or cancelled, a fulfilled
or cancelled one nothing; the other keys are hidden and do nothing. Every change goes through the
services (journaled: ``ctrl+z`` takes it back).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.widgets import Static

from crm_tui.money import missing_note
from crm_tui.queries.order_types import ORDER_STATUSES, OrderFilter, OrderRow, OrderSummary
from crm_tui.textnorm import money_text
from crm_tui.tui.literal import literal
from crm_tui.tui.order_actions import MOVES, allowed, confirm_cancel, move, open_edit_form
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.tui.widgets.mode_bar import ModeBar
from crm_tui.tui.widgets.virtual_table import Column, VirtualTable

#: a row of the page cache: its cells and the order they show
PageRow = tuple[tuple[str, ...], OrderRow]

PAGE = 200
UNKNOWN = "?"  # no status: the keys are worked out again
MAX_PAGES = 40  # at most 8,000 rows held, whatever the number of orders

COLUMNS = (
    Column("number", "Order", 9, priority=0),
    Column("customer", "Customer", 16, priority=0, flex=True),
    Column("status", "Status", 9, priority=1),
    Column("lines", "Lines", 5, priority=4, align="right"),
    Column("total", "Total", 14, priority=2, align="right"),
    Column("owner", "Owner", 10, priority=5),
    Column("created", "Created", 10, priority=3),
)


def row_cells(row: OrderRow) -> tuple[str, ...]:
    """An ``OrderRow`` → the table's cells, in ``COLUMNS`` order (created in local time)."""
    return (
        row.number,
        row.customer,
        row.status,
        f"{row.lines:,}",
        money_text(row.total_cents, row.currency),  # an order in another currency says which
        row.owner,
        row.created_at.astimezone().date().isoformat(),
    )


def _page(rows: list[OrderRow]) -> list[PageRow]:
    return [(row_cells(r), r) for r in rows]


class OrdersScreen(CrmScreen):
    CSS_PATH = "orders.tcss"
    WATCHES = frozenset({"sales_order", "order_line", "customer", "product"})
    BINDINGS = [
        Binding("a", "approve", "Approve", id="orders.approve", tooltip="Approve order: draft → approved"),
        Binding("f", "fulfil", "Fulfil", id="orders.fulfil", tooltip="Fulfil order: approved → fulfilled"),
        Binding("x", "cancel_order", "Cancel", id="orders.cancel", tooltip="Cancel order (asks first)"),
        Binding("e", "edit", "Edit lines", id="orders.edit", tooltip="Edit order lines (a draft's)"),
        Binding("c", "customer", "Customer", id="orders.customer", tooltip="Open the order's customer"),
        Binding("s", "pick_status", "Status", id="orders.status", tooltip="Show orders of one status"),
        Binding("o", "pick_owner", "Owner", id="orders.owner", tooltip="Show orders of one owner"),
        Binding("m", "mine", "Mine", id="orders.mine", tooltip="Show my orders only (again: everyone's)"),
        Binding("escape", "clear", "All", show=False, id="orders.clear", tooltip="Show every order again"),
        Binding(
            "P",
            "products",
            "Products",
            id="orders.products",
            tooltip="Products: the catalogue (add, edit, retire; code and list price)",
        ),
    ]

    #: which orders the list shows: one status, one owner (None: all)
    order_filter: var[OrderFilter] = var(OrderFilter, init=False)
    #: counts and totals per status for the owner shown (None until read)
    summary: var[OrderSummary | None] = var(None, init=False)

    class ListLoaded(Message):
        """A new list: its count, where the cursor goes, and the page under it."""

        def __init__(self, generation: int, total: int, cursor: int, number: int, page: list[PageRow]) -> None:
            super().__init__()
            self.generation, self.total, self.cursor, self.number, self.page = generation, total, cursor, number, page

    class PageLoaded(Message):
        def __init__(self, generation: int, number: int, page: list[PageRow]) -> None:
            super().__init__()
            self.generation, self.number, self.page = generation, number, page

    class SummaryLoaded(Message):
        def __init__(self, owner: str | None, summary: OrderSummary) -> None:
            super().__init__()
            self.owner, self.summary = owner, summary

    class OwnersLoaded(Message):
        def __init__(self, owners: list[str]) -> None:
            super().__init__()
            self.owners = owners

    def __init__(self) -> None:
        super().__init__()
        self._generation = 0
        self._pages: OrderedDict[int, list[PageRow]] = OrderedDict()
        self._pending: set[int] = set()
        self._total = 0
        self._keep_id: int | None = None
        self._loaded = False
        self._keys_for: str | None = UNKNOWN  # the status the shown keys were worked out for (None: no order)
        self._summary_wanted = True  # read the summary once the rows are shown

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ModeBar("orders")
        yield Static("Orders", id="orders-summary", markup=False)
        yield Static("", id="orders-statuses", markup=False)
        yield VirtualTable(COLUMNS, self._row_at, placeholder="…", empty_text="Loading orders…", id="orders-table")
        yield KeyBar()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#orders-table", VirtualTable)

    def on_mount(self) -> None:
        self.table.focus()
        self._show_statuses()

    # -- the page cache -------------------------------------------------------------------

    def _entry(self, index: int) -> PageRow | None:
        page = self._pages.get(index // PAGE)
        offset = index % PAGE
        return page[offset] if page is not None and offset < len(page) else None

    def _row_at(self, index: int) -> tuple[str, ...] | None:
        entry = self._entry(index)
        return entry[0] if entry is not None else None

    def current(self) -> OrderRow | None:
        """The highlighted order, once its page is in."""
        entry = self._entry(self.table.cursor_row) if self._total else None
        return entry[1] if entry is not None else None

    def _store_page(self, number: int, rows: list[PageRow]) -> None:
        self._pages[number] = rows
        self._pages.move_to_end(number)
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        """Data changed (or the database just opened): read again, keeping the cursor on its order."""
        current = self.current()
        self._restart(keep_id=self._keep_id or (current.id if current else None))
        self._summary_wanted = True  # after the rows: the list never waits for the figures

    def _restart(self, keep_id: int | None = None) -> None:
        if self.app.db is None:
            return
        self._generation += 1
        self._pending.clear()
        self._keep_id = keep_id
        cursor = self.table.cursor_row if keep_id is not None else 0
        self._load_list(self._generation, self.order_filter, keep_id, cursor)

    @work(thread=True, exclusive=True, group="orders-list", exit_on_error=False)
    def _load_list(self, generation: int, filt: OrderFilter, keep_id: int | None, cursor: int) -> None:
        """Count, find the kept order, and read the page under the cursor (one worker at a time)."""
        from crm_tui.queries.orders import count_orders, fetch_orders, first_orders, order_position

        db = self.app.db
        assert db is not None  # _restart() starts this only once the database is open
        if keep_id is None and cursor == 0:
            rows, total = first_orders(db, filt, PAGE)
            self.post_message(self.ListLoaded(generation, total, 0, 0, _page(rows)))
            return
        total = count_orders(db, filt)
        if keep_id is not None:
            position = order_position(db, filt, keep_id)
            cursor = position if position is not None else cursor
        cursor = min(max(0, cursor), max(0, total - 1))
        number = cursor // PAGE
        rows = fetch_orders(db, filt, at=number * PAGE, limit=PAGE)
        self.post_message(self.ListLoaded(generation, total, cursor, number, _page(rows)))

    @on(ListLoaded)
    def _list_loaded(self, event: ListLoaded) -> None:
        if event.generation != self._generation:
            return
        self._pages.clear()
        self._pending.clear()
        self._store_page(event.number, event.page)
        self._total = event.total
        self._keep_id = None
        self._loaded = True
        filtered = self.order_filter != OrderFilter()
        self.table.empty_text = (
            "No orders match — escape shows every order"
            if filtered
            else "No orders yet — make one from a won deal (o on its page) or a customer's page"
        )
        self.table.set_row_count(event.total, cursor=event.cursor)
        self._show_summary()
        self._keys_for = UNKNOWN
        self._follow_status()
        if self._summary_wanted:
            self._summary_wanted = False
            self._read_summary(self.order_filter.owner)

    @on(VirtualTable.RowsNeeded)
    def _rows_needed(self, event: VirtualTable.RowsNeeded) -> None:
        if not self._loaded or self.app.db is None:
            return
        for number in range(event.start // PAGE, max(event.start, event.end - 1) // PAGE + 1):
            if number in self._pages:
                self._pages.move_to_end(number)
            elif number not in self._pending:
                self._pending.add(number)
                previous = self._pages.get(number - 1)
                after = previous[-1][1].id if previous and len(previous) == PAGE else None  # keyset when known
                self._fetch_page(self._generation, self.order_filter, number, after)

    @work(thread=True, group="orders-page", exit_on_error=False)
    def _fetch_page(self, generation: int, filt: OrderFilter, number: int, after: int | None) -> None:
        from crm_tui.queries.orders import fetch_orders

        db = self.app.db
        assert db is not None  # _rows_needed() starts this only once the database is open
        rows = fetch_orders(db, filt, at=number * PAGE, after=after, limit=PAGE)
        self.post_message(self.PageLoaded(generation, number, _page(rows)))

    @on(PageLoaded)
    def _page_loaded(self, event: PageLoaded) -> None:
        if event.generation != self._generation:
            return
        self._pending.discard(event.number)
        self._store_page(event.number, event.page)
        self.table.refresh_rows()
        self._follow_status()

    @work(thread=True, exclusive=True, group="orders-summary", exit_on_error=False)
    def _read_summary(self, owner: str | None) -> None:
        from crm_tui.queries.orders import order_summary

        db = self.app.db
        if db is not None:
            self.post_message(self.SummaryLoaded(owner, order_summary(db, owner)))

    @on(SummaryLoaded)
    def _summary_loaded(self, event: SummaryLoaded) -> None:
        if event.owner == self.order_filter.owner:
            self.summary = event.summary

    # -- what is shown above the table ----------------------------------------------------

    def _show_summary(self) -> None:
        f = self.order_filter
        parts = [f"Orders · {self._total:,} {'shown' if f != OrderFilter() else 'in total'}"]
        parts.append(f"status {f.status}" if f.status else "every status")
        parts.append(f"owner {f.owner}" if f.owner is not None else "everyone's")
        summary = self.summary
        if summary is not None and summary.mixed:  # orders in several currencies: the totals are converted
            parts.append(f"totals in {summary.currency}")
            if summary.missing:
                parts.append(missing_note(summary.missing, cli=False))
        self.query_one("#orders-summary", Static).update(literal(" · ".join(parts)), layout=False)

    def watch_summary(self) -> None:
        self._show_statuses()
        self._show_summary()

    def _show_statuses(self) -> None:
        """One column per status: its count, and the value of its orders (exact, in cents)."""
        grid = Table.grid(expand=True)
        for _ in ORDER_STATUSES:
            grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        heads, values = [], []
        for status in ORDER_STATUSES:
            chosen = self.order_filter.status == status
            style = "bold reverse" if chosen else "bold"
            if self.summary is None:
                heads.append(Text(f" {status} …", style=style))
                values.append(Text(""))
                continue
            figures = self.summary.of(status)
            heads.append(Text(f" {status} {figures.count:,}", style=style))
            values.append(Text(f" {money_text(figures.total_cents)}", style="reverse" if chosen else ""))
        grid.add_row(*heads)
        grid.add_row(*values)
        self.query_one("#orders-statuses", Static).update(grid)

    # -- filters --------------------------------------------------------------------------

    def watch_order_filter(self) -> None:
        self._show_statuses()
        self._restart(keep_id=None)

    def _filter(self, **changes: Any) -> None:
        new = replace(self.order_filter, **changes)
        if new.owner != self.order_filter.owner:
            self.summary = None
            self._read_summary(new.owner)
        self.order_filter = new

    def action_products(self) -> None:
        self.app.open_products()

    def action_pick_status(self) -> None:
        from crm_tui.tui.modals.pick import PickScreen

        def label(status: str) -> str:
            if self.summary is None:
                return status
            figures = self.summary.of(status)
            return f"{status} · {figures.count:,} · {money_text(figures.total_cents)}"

        choices = [("every status", ""), *((label(s), s) for s in ORDER_STATUSES)]
        self.app.push_screen(
            PickScreen("Show orders that are", choices, current=self.order_filter.status or ""), self._status_picked
        )

    def _status_picked(self, status: str | None) -> None:
        if status is not None:
            self._filter(status=status or None)

    def action_pick_owner(self) -> None:
        if self.app.db is not None:
            self._read_owners()

    @work(thread=True, exclusive=True, group="orders-owners", exit_on_error=False)
    def _read_owners(self) -> None:
        from crm_tui.queries.orders import order_owners

        db = self.app.db
        assert db is not None  # action_pick_owner() starts this only once the database is open
        self.post_message(self.OwnersLoaded(order_owners(db)))

    @on(OwnersLoaded)
    def _owners_loaded(self, event: OwnersLoaded) -> None:
        from crm_tui.tui.modals.pick import PickScreen

        choices = [("everyone", "\0"), *((owner, owner) for owner in event.owners)]
        current = self.order_filter.owner if self.order_filter.owner is not None else "\0"
        self.app.push_screen(PickScreen("Show the orders of", choices, current=current), self._owner_picked)

    def _owner_picked(self, owner: str | None) -> None:
        if owner is not None:
            self._filter(owner=None if owner == "\0" else owner)

    def action_mine(self) -> None:
        mine = self.app.user or ""
        self._filter(owner=None if self.order_filter.owner == mine else mine)

    def action_clear(self) -> None:
        if self.order_filter != OrderFilter():
            self._filter(status=None, owner=None)

    # -- keys that follow the highlighted order ------------------------------------------

    @on(VirtualTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._follow_status()

    def _follow_status(self) -> None:
        """The keys follow the highlighted order's status: re-read only when it is another status
        (or no order), so moving along orders of one status costs a key no more than elsewhere."""
        current = self.current()
        status = current.status if current is not None else None
        if status != self._keys_for:
            self._keys_for = status
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Approve, fulfil, cancel and edit only where the order's status allows (hidden
        otherwise; shown dimmed while the highlighted row is still being read)."""
        if action not in (*MOVES, "edit", "customer"):
            return True
        order = self.current()
        if order is None:
            return None if self._total else False
        return action == "customer" or allowed(action, order.status)

    def _target(self) -> OrderRow | None:
        """The highlighted order, while the list has the keys and the database is open."""
        order = self.current() if self.table.has_focus else None
        if order is None or self.app.services is None:
            return None
        return order

    def _move(self, action: str) -> None:
        order = self._target()
        if order is not None:
            self._keep_id = order.id
            move(self, action, order.id, order.number)

    def action_approve(self) -> None:
        self._move("approve")

    def action_fulfil(self) -> None:
        self._move("fulfil")

    def action_cancel_order(self) -> None:
        order = self._target()
        if order is not None:
            self._keep_id = order.id
            confirm_cancel(self, order.id, order.number, order.customer, order.lines, order.total_cents)

    def action_customer(self) -> None:
        order = self.current()
        if order is not None:
            self.app.open_customer(order.customer_id)

    @on(VirtualTable.RowSelected)
    def _open(self, event: VirtualTable.RowSelected) -> None:
        entry = self._entry(event.row)
        if entry is not None:
            self.app.open_order(entry[1].id)

    # -- editing a draft's lines ----------------------------------------------------------

    def action_edit(self) -> None:
        order = self._target()
        if order is not None:
            open_edit_form(self, order.id)
