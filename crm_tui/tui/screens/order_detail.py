"""One order: its status and dates, its lines and total, and the History of every change to it.

Opened with ``enter`` on the Orders list or on an order of a customer's page, or after an order
is made (``app.open_order``), on top of the screen the rep was on: escape goes back there. It is
read by one worker, which posts it back, and read again whenever a watched table changes, in
this session or another. The keys follow the order's status, as the list's do.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from crm_tui.textnorm import money_text
from crm_tui.tui.history_view import history_text
from crm_tui.tui.literal import literal, safe
from crm_tui.tui.order_actions import MOVES, allowed, confirm_cancel, move, open_edit_form
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from crm_tui.queries.history import HistoryItem
    from crm_tui.queries.order_types import OrderDetail


def _local(at: dt.datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M") if at else "—"


class OrderDetailScreen(CrmScreen):
    CSS_PATH = "order_detail.tcss"
    WATCHES = frozenset({"sales_order", "order_line", "customer", "deal", "product", "journal"})
    BINDINGS = [
        Binding("escape", "back", "Back", id="order.back", tooltip="Back to where you came from"),
        Binding("a", "approve", "Approve", id="order.approve", tooltip="Approve order: draft → approved"),
        Binding("f", "fulfil", "Fulfil", id="order.fulfil", tooltip="Fulfil order: approved → fulfilled"),
        Binding("x", "cancel_order", "Cancel", id="order.cancel", tooltip="Cancel order (asks first)"),
        Binding("e", "edit", "Edit lines", id="order.edit", tooltip="Edit order lines (a draft's)"),
        Binding("c", "customer", "Customer", id="order.customer", tooltip="Open the order's customer"),
        Binding("d", "deal", "Deal", id="order.deal", tooltip="Open the deal the order came from"),
    ]

    class Loaded(Message):
        def __init__(self, order: OrderDetail | None, changes: list[HistoryItem]) -> None:
            super().__init__()
            self.order, self.changes = order, changes

    def __init__(self, order_id: int) -> None:
        super().__init__()
        self.order_id = order_id
        self.order: OrderDetail | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="order-body"):
            yield Static("Loading…", id="order-head")
            yield Static("", id="order-lines", classes="order-box")
            yield Static("", id="order-changes", classes="order-box")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#order-body").focus()

    def reload(self) -> None:
        self._load(self.order_id)

    @work(thread=True, exclusive=True, group="order-load", exit_on_error=False)
    def _load(self, order_id: int) -> None:
        from crm_tui.queries.history import history
        from crm_tui.queries.orders import load_order

        db = self.app.db
        assert db is not None  # screens reload once the database is open (CrmScreen.on_mount)
        order = load_order(db, order_id)
        changes = history(db, record=("sales_order", order_id), limit=30) if order is not None else []
        self.post_message(self.Loaded(order, changes))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.order = event.order
        self.refresh_bindings()
        order = event.order
        if order is None:
            self.query_one("#order-head", Static).update(
                Text("This order no longer exists (ctrl+z brings back an order you made and undid).")
            )
            for box in self.query(".order-box").results(Static):
                box.update("")
            return
        head = Table.grid(padding=(0, 2))
        head.add_column(style="dim")
        head.add_column()
        title = Text(safe(order.number), style="bold")
        title.append(f"   {order.status}", style="bold reverse" if order.status != "draft" else "bold")
        head.add_row("Order", title)
        head.add_row("Customer", literal(order.customer))
        if order.deal_id is not None:
            head.add_row("From deal", literal(order.deal or f"#{order.deal_id}"))
        head.add_row("Owner", literal(order.owner or "—"))
        head.add_row("Created", Text(_local(order.created_at)))
        for label, at in (
            ("Approved", order.approved_at),
            ("Fulfilled", order.fulfilled_at),
            ("Cancelled", order.cancelled_at),
        ):
            if at is not None:
                head.add_row(label, Text(_local(at)))
        head.add_row("Total", Text(money_text(order.total_cents, order.currency), style="bold"))
        self.query_one("#order-head", Static).update(head)

        lines = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
        lines.add_column("Product", no_wrap=True, overflow="ellipsis", ratio=1)
        lines.add_column("Qty", justify="right", no_wrap=True)
        lines.add_column("Unit price", justify="right", no_wrap=True)
        lines.add_column("Line total", justify="right", no_wrap=True)
        for line in order.lines:
            lines.add_row(
                literal(line.product),
                f"{line.quantity:,}",
                money_text(line.unit_price_cents),
                money_text(line.total_cents),
            )
        lines.add_row("", "", Text("Total", style="bold"), Text(money_text(order.total_cents), style="bold"))
        heading = f"Lines ({len(order.lines)})" + (
            " — e edits them while it is a draft" if order.status == "draft" else ""
        )
        section = Table.grid(expand=True)
        section.add_row(Text(heading, style="bold"))
        section.add_row(lines)
        self.query_one("#order-lines", Static).update(section)

        changed = Text.assemble(("History\n", "bold"))
        changed.append_text(history_text(event.changes))
        self.query_one("#order-changes", Static).update(changed)

    # -- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The moves and the edit only where the order's status allows them (hidden otherwise)."""
        if action in (*MOVES, "edit", "deal"):
            if self.order is None:
                return None  # shown, dimmed, until the order is read
            if action == "deal":
                return self.order.deal_id is not None
            return allowed(action, self.order.status)
        return True

    def _ready(self) -> OrderDetail | None:
        return self.order if self.app.services is not None else None

    def action_approve(self) -> None:
        order = self._ready()
        if order is not None:
            move(self, "approve", order.id, order.number)

    def action_fulfil(self) -> None:
        order = self._ready()
        if order is not None:
            move(self, "fulfil", order.id, order.number)

    def action_cancel_order(self) -> None:
        order = self._ready()
        if order is not None:
            confirm_cancel(self, order.id, order.number, order.customer, len(order.lines), order.total_cents)

    def action_customer(self) -> None:
        if self.order is not None:
            self.app.open_customer(self.order.customer_id)

    def action_deal(self) -> None:
        if self.order is not None and self.order.deal_id is not None:
            self.app.open_deal(self.order.deal_id)

    def action_edit(self) -> None:
        if self._ready() is not None:
            open_edit_form(self, self.order_id)
