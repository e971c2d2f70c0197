"""One customer: contacts, deals, tasks, orders, the timeline (activities, notes, stage changes
and orders of the customer and its deals, newest first, filtered by kind with ``f``) and the
History of changes. ``y``/``Y`` copy the email or phone, ``ctrl+e``/``ctrl+t`` open them in the
desktop's mail or phone app where there is a desktop. ``D`` starts a deal for this customer (its
id, not its name: two customers may share one); ``tab`` reaches the contacts (``e`` edits, ``d``
deletes the highlighted one) and the orders; ``N`` lists the notes to edit or delete one.

Opened with ``enter`` on the customer list, from a deal, a task or the command palette
(``app.open_customer``), on top of the screen the rep was on: escape goes back there.
Everything is read by one worker (``queries.customer_detail``, ``queries.timeline``), which
posts it back, and is read again whenever a watched table changes, in this session or another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from crm_tui.money import missing_note
from crm_tui.textnorm import money_text
from crm_tui.tui.history_view import history_text
from crm_tui.tui.literal import literal, safe
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.tui.widgets.table_height import fit_height
from crm_tui.tui.widgets.timeline import Timeline

if TYPE_CHECKING:  # read in the worker: their imports stay off the first paint
    from crm_tui.queries.customer_detail import ContactLine, CustomerDetail
    from crm_tui.queries.history import HistoryItem
    from crm_tui.queries.timeline import TimelineItem


def local_time(value: dt.datetime | None, *, with_time: bool = True) -> str:
    if value is None:
        return ""
    local = value.astimezone()
    return local.strftime("%Y-%m-%d %H:%M") if with_time else local.date().isoformat()


def _table(*headers: tuple[str, JustifyMethod]) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
    for name, justify in headers:
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis", ratio=None)
    return table


#: rows the page's lists (contacts, orders) show before they scroll
LIST_ROWS = 11


class ContactsTable(DataTable[Text]):
    """The customer's contacts with a cursor (``tab`` reaches it): ``e`` edits, ``d`` deletes the
    highlighted one; the page does it."""

    BINDINGS = [
        Binding(
            "e",
            "screen.edit_contact",
            "Edit contact",
            id="customer_detail.contact_edit",
            tooltip="Edit the highlighted contact",
        ),
        Binding(
            "d",
            "screen.delete_contact",
            "Delete contact",
            id="customer_detail.contact_delete",
            tooltip="Delete the highlighted contact (asks first; ctrl+z brings it back)",
        ),
    ]


class CustomerDetailScreen(CrmScreen):
    CSS_PATH = "customer_detail.tcss"
    WATCHES = frozenset(
        {"customer", "contact", "deal", "task", "note", "sales_order", "order_line", "journal", "stage_change", "stage"}
    )
    BINDINGS = [
        Binding("escape,q", "back", "Back", id="customer_detail.back", tooltip="Back to where you came from"),
        Binding("e", "edit", "Edit", id="customer_detail.edit", tooltip="Edit this customer"),
        Binding("c", "add_contact", "Contact", id="customer_detail.contact", tooltip="Add a contact person"),
        Binding("n", "add_note", "Note", id="customer_detail.note", tooltip="Log a note on the timeline"),
        Binding("t", "add_task", "Task", id="customer_detail.task", tooltip="Add a follow-up task"),
        Binding(
            "a",
            "log",
            "Log",
            id="customer_detail.log",
            tooltip="Log a call, email or meeting: outcome, note, next step",
        ),
        Binding("o", "new_order", "Order", id="customer_detail.order", tooltip="New order for this customer"),
        Binding("D", "new_deal", "Deal", id="customer_detail.deal", tooltip="New deal for this customer"),
        Binding(
            "N",
            "notes",
            "Notes",
            id="customer_detail.notes",
            tooltip="The customer's notes, newest first: edit or delete one",
        ),
        Binding(
            "f",
            "timeline_filter",
            "Filter",
            id="customer_detail.timeline_filter",
            tooltip="Timeline: show only activities, notes, stage changes or orders (again: the next; then all)",
        ),
        Binding(
            "y",
            "copy('email')",
            "Copy email",
            show=False,
            id="customer_detail.copy_email",
            tooltip="Copy the customer's email to the clipboard (works over SSH)",
        ),
        Binding(
            "Y",
            "copy('phone')",
            "Copy phone",
            show=False,
            id="customer_detail.copy_phone",
            tooltip="Copy the customer's phone number to the clipboard (works over SSH)",
        ),
        Binding(
            "ctrl+e",
            "open_link('email')",
            "Email",
            show=False,
            id="customer_detail.mail",
            tooltip="Write to the customer's email in your mail app (mailto:; needs a desktop, not SSH)",
        ),
        Binding(
            "ctrl+t",
            "open_link('phone')",
            "Call",
            show=False,
            id="customer_detail.call",
            tooltip="Call the customer's phone number with your phone app (tel:; needs a desktop, not SSH)",
        ),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        #: the timeline's filter (None: every kind), what the next read asks for
        self.kinds: tuple[str, ...] | None = None
        self.detail: CustomerDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="detail-title", markup=False)
        yield Static("", id="detail-info", markup=False)
        with VerticalScroll(id="detail-body"):
            with Vertical(id="detail-columns"):  # side by side when the terminal is wide
                with Vertical(id="detail-left"):
                    yield Static("", id="detail-contacts", classes="section", markup=False)
                    yield ContactsTable(id="detail-contact-table", cursor_type="row", show_cursor=True)
                    yield Static("", id="detail-deals", classes="section", markup=False)
                    yield Static("", id="detail-orders", classes="section", markup=False)
                    yield DataTable(id="detail-order-table", cursor_type="row", show_cursor=True)
                with Vertical(id="detail-right"):
                    yield Static("", id="detail-tasks", classes="section", markup=False)
            # the whole width: its lines are long
            yield Timeline(id="detail-timeline", empty="Nothing yet — a logs a call, n adds a note", show_deal=True)
            yield Static("", id="detail-history", classes="section", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#detail-body").focus()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= 110, "-wide")
        self.call_after_refresh(self._refit)  # once the page is laid out at its new width

    def _refit(self) -> None:
        """A narrower page may need the lists' horizontal scrollbars (a wider one no longer)."""
        for table in (self.query_one(ContactsTable), self.query_one("#detail-order-table", DataTable)):
            fit_height(table, LIST_ROWS, hide_empty=True)

    # -- loading ------------------------------------------------------------------------

    def reload(self) -> None:
        self._load(self.customer_id, self.kinds)

    @work(thread=True, exclusive=True, group="customer-detail", exit_on_error=False)
    def _load(self, customer_id: int, kinds: tuple[str, ...] | None) -> None:
        from crm_tui.queries.customer_detail import customer_detail
        from crm_tui.queries.history import history
        from crm_tui.queries.timeline import timeline

        db = self.app.db
        assert db is not None  # screens reload once the database is open (CrmScreen.on_mount)
        detail = customer_detail(db, customer_id)
        changes = history(db, customer_id=customer_id, limit=30) if detail is not None else []
        items = timeline(db, customer_id=customer_id, kinds=kinds) if detail is not None else []
        self.post_message(self.Loaded(detail, changes, items, kinds))

    class Loaded(Message):
        def __init__(
            self,
            detail: CustomerDetail | None,
            changes: list[HistoryItem],
            items: list[TimelineItem],
            kinds: tuple[str, ...] | None,
        ) -> None:
            super().__init__()
            self.detail = detail
            self.changes = changes
            self.items = items
            self.kinds = kinds  # the timeline filter these items were read for

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self._show(event.detail)
        board = self.query_one(Timeline)
        if event.kinds == self.kinds:  # else a read for the filter before: the next one is coming
            board.show(event.items)
        board.display = event.detail is not None
        if event.detail is not None:
            self._section("#detail-history", "History", history_text(event.changes), "No changes recorded yet")

    @on(Timeline.FilterChanged)
    def _filter_changed(self, event: Timeline.FilterChanged) -> None:
        self.kinds = event.timeline.kinds
        self.reload()

    def action_timeline_filter(self) -> None:
        self.query_one(Timeline).cycle()

    def _show(self, detail: CustomerDetail | None) -> None:
        self.detail = detail
        if detail is None:
            self.query_one("#detail-title", Static).update(Text(f"Customer #{self.customer_id} was deleted"))
            self.query_one("#detail-info", Static).update(Text("Press escape to go back; ctrl+z undoes a delete."))
            for section in self.query(".section").results(Static):
                section.update("")
            return
        c = detail.customer
        title = literal(c["name"])
        title.append(f" · {c['status']}")
        if c.get("owner"):
            title.append(" · owner ")
            title.append_text(literal(c["owner"]))
        self.query_one("#detail-title", Static).update(title)
        info = [c.get(k) or "" for k in ("kind", "email", "phone", "website", "industry")]
        line = " · ".join(v for v in info if v)
        if c.get("tags"):
            line += f" · tags: {c['tags']}"
        line += f" · updated {local_time(c['updated_at'])}"
        self.query_one("#detail-info", Static).update(literal(line))
        self._contacts(detail)
        self._deals(detail)
        self._orders(detail)
        self._tasks(detail)

    # -- sections -----------------------------------------------------------------------

    def _section(self, wid: str, heading: str, body: Table | Text | None, empty: str) -> None:
        parts = Table.grid(expand=True)
        parts.add_row(Text(heading, style="bold"))
        parts.add_row(body if body is not None else Text(empty, style="italic"))
        self.query_one(wid, Static).update(parts)

    def _contacts(self, d: CustomerDetail) -> None:
        """The heading, and the contacts in a list with a cursor: tab moves into it, e edits, d deletes."""
        heading = f"Contacts ({len(d.contacts)})" + (" · tab, then e edits, d deletes" if d.contacts else "")
        if d.contacts:
            self.query_one("#detail-contacts", Static).update(Text(heading, style="bold"))
        else:
            self._section("#detail-contacts", heading, None, "No contacts — press c to add one")
        table = self.query_one(ContactsTable)
        if not table.columns:
            for label, key in (("Name", "name"), ("Title", "title"), ("Email", "email"), ("Phone", "phone")):
                table.add_column(label, key=key)
        keep = table.cursor_row
        table.clear()
        for ct in d.contacts:
            table.add_row(literal(ct.name), literal(ct.title), literal(ct.email), literal(ct.phone), key=str(ct.id))
        if d.contacts:
            table.move_cursor(row=min(keep, len(d.contacts) - 1))
        fit_height(table, LIST_ROWS, hide_empty=True)

    def _deals(self, d: CustomerDetail) -> None:
        table = _table(("Deal", "left"), ("Stage", "left"), ("Amount", "right"))
        for deal in d.deals:
            table.add_row(literal(deal.title), literal(deal.stage), money_text(deal.amount_cents, deal.currency))
        total = d.open_total()  # in the home currency: each currency's sum converted
        heading = f"Deals ({len(d.deals)}) · open {money_text(total.cents, d.rates.home)}"
        if total.missing:
            heading += f" ({missing_note(total.missing, cli=False)})"
        self._section("#detail-deals", heading, table if d.deals else None, "No deals")

    def _orders(self, d: CustomerDetail) -> None:
        """The heading, and the orders in a list with a cursor: tab moves into it, enter opens one."""
        heading = f"Orders ({len(d.orders)})" + (" · tab, then enter opens one" if d.orders else "")
        if d.orders:  # the heading alone: the list below holds the rows
            self.query_one("#detail-orders", Static).update(Text(heading, style="bold"))
        else:
            self._section("#detail-orders", heading, None, "No orders — press o to make one")
        table = self.query_one("#detail-order-table", DataTable)
        if not table.columns:
            table.add_column("Order", key="number")
            table.add_column("Status", key="status")
            table.add_column("Created", key="created")
            table.add_column(Text("Value", justify="right"), key="value")
        keep = table.cursor_row
        table.clear()
        for o in d.orders:
            table.add_row(
                literal(o.number),
                Text(o.status),
                Text(local_time(o.created_at, with_time=False)),
                Text(money_text(o.value_cents, o.currency if o.currency != d.rates.home else ""), justify="right"),
                key=str(o.id),
            )
        if d.orders:
            table.move_cursor(row=min(keep, len(d.orders) - 1))
        fit_height(table, LIST_ROWS, hide_empty=True)

    @on(DataTable.RowSelected, "#detail-order-table")
    def _open_order(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.open_order(int(event.row_key.value))

    def _tasks(self, d: CustomerDetail) -> None:
        now = self.app.clock()
        body = Text(no_wrap=True, overflow="ellipsis")
        for t in d.open_tasks:
            overdue = t.due_at is not None and t.due_at < now
            body.append("! " if overdue else "○ ", style="bold" if overdue else "")
            body.append(f"{local_time(t.due_at) or 'no due date':16} ", style="bold" if overdue else "")
            body.append_text(literal(f"{t.kind}: {t.subject}"))
            body.append("\n")
        for t in d.done_tasks:
            body.append("✓ ")
            body.append(f"{local_time(t.done_at):16} ", style="dim")
            body.append_text(literal(f"{t.kind}: {t.subject}"))
            body.append("\n")
        body.rstrip()
        heading = f"Tasks · {len(d.open_tasks)} open, {len(d.done_tasks)} done"
        self._section(
            "#detail-tasks", heading, body if (d.open_tasks or d.done_tasks) else None, "No tasks — press t to add one"
        )

    # -- actions ------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def _customer_name(self) -> str:
        return self.detail.customer["name"] if self.detail else f"#{self.customer_id}"

    def _ready(self) -> bool:
        return self.detail is not None and self.app.services is not None

    def _saved(self, what: str) -> Callable[[Any], None]:
        def done(result: Any) -> None:
            if result is not None:
                self.notify(what, timeout=3, markup=False)

        return done

    def action_edit(self) -> None:
        if not self._ready():
            return
        from crm_tui.tui.modals.customer_form import CustomerForm

        services, cid, detail = self.app.services, self.customer_id, self.detail
        assert services is not None and detail is not None  # _ready

        def save(values: dict[str, Any], version: int | None) -> Any:
            return services.update_customer(cid, expected_version=version, **values)

        self.app.push_screen(CustomerForm(detail.customer, save), self._saved("Customer saved"))

    def action_add_contact(self) -> None:
        if not self._ready():
            return
        from crm_tui.tui.modals.contact_form import ContactForm

        services, cid = self.app.services, self.customer_id
        assert services is not None  # _ready
        form = ContactForm(self._customer_name(), lambda values: services.create_contact(cid, **values))
        self.app.push_screen(form, self._saved("Contact added"))

    def action_add_note(self) -> None:
        if not self._ready():
            return
        from crm_tui.tui.modals.note_form import NoteForm

        services, cid = self.app.services, self.customer_id
        assert services is not None  # _ready
        form = NoteForm(self._customer_name(), lambda values: services.add_note(values["note"], customer_id=cid))
        self.app.push_screen(form, self._saved("Note added"))

    def action_log(self) -> None:
        if not self._ready():
            return
        from crm_tui.tui.modals.activity_form import ActivityFormScreen
        from crm_tui.tui.savers import activity_saver

        form = ActivityFormScreen(
            f"Log an activity with {self._customer_name()}",
            activity_saver(self.app, customer_id=self.customer_id),
            values={"kind": "call", "outcome": "reached"},
        )
        self.app.push_screen(form, self._saved("Activity logged (ctrl+z takes it back)"))

    def _reachable(self, field: str) -> tuple[str, str] | None:
        """The customer's email or phone — or, when it has none, its first contact's — and whose
        it is; None (said in one line) when nobody on the page has one."""
        if self.detail is None:
            return None
        label = "email" if field == "email" else "phone number"
        own = str(self.detail.customer.get(field) or "").strip()
        if own:
            return own, self._customer_name()
        for contact in self.detail.contacts:
            value = str(getattr(contact, field) or "").strip()
            if value:
                return value, f"{contact.name} ({self._customer_name()})"
        self.notify(
            f"'{safe(self._customer_name())}' has no {label} on file, nor do its contacts; e edits the customer",
            severity="warning",
            markup=False,
        )
        return None

    def action_copy(self, field: str) -> None:
        """The email or phone onto the terminal's clipboard (OSC 52: the terminal on the rep's own
        machine receives it, also over SSH)."""
        found = self._reachable(field)
        if found is not None:
            from crm_tui.tui.opener import copied

            self.app.copy_to_clipboard(found[0])
            self.notify(copied(field, *found), timeout=3, markup=False)

    def action_open_link(self, field: str) -> None:
        """mailto: or tel: in the desktop's mail or phone app; over SSH or without a desktop, one
        line saying so and which key copies it instead."""
        from crm_tui.tui.opener import open_contact

        found = self._reachable(field)
        if found is not None:
            opened = open_contact(field, *found)
            self.notify(safe(opened.reason), severity="information" if opened.ok else "warning", markup=False)

    def action_new_order(self) -> None:
        if self._ready():
            from crm_tui.tui.order_actions import open_new_order_form

            open_new_order_form(self, self.customer_id, self._customer_name())

    def action_new_deal(self) -> None:
        """The deal form with this customer filled in; saved for this customer's id while its name
        is left as it is (another customer of the same name never gets it)."""
        if not self._ready():
            return
        from functools import partial

        from crm_tui.queries.pipeline import find_customers
        from crm_tui.tui.modals.deal_form import CustomerSuggester, DealFormScreen
        from crm_tui.tui.savers import deal_values

        db, services, cid, name = self.app.db, self.app.services, self.customer_id, self._customer_name()
        assert db is not None and services is not None  # _ready

        def save(values: dict[str, Any]) -> Any:
            return services.create_deal(**deal_values(db, values, services=services))

        form = DealFormScreen(
            f"New deal for {name}",
            save,
            values={"owner": self.app.user or "", "customer": name},
            suggesters={"customer": CustomerSuggester(partial(find_customers, db, limit=1))},
            customer_id=cid,
        )
        self.app.push_screen(form, self._saved("Deal added (ctrl+z takes it back)"))

    def _contact(self) -> ContactLine | None:
        """The contact under the contacts list's cursor."""
        table = self.query_one(ContactsTable)
        if self.detail is None or not self.detail.contacts or table.cursor_row < 0:
            return None
        return self.detail.contacts[min(table.cursor_row, len(self.detail.contacts) - 1)]

    def action_edit_contact(self) -> None:
        contact = self._contact()
        if contact is None or not self._ready():
            return
        from crm_tui.tui.modals.contact_form import ContactForm

        services = self.app.services
        assert services is not None  # _ready
        values = {"name": contact.name, "title": contact.title, "email": contact.email, "phone": contact.phone}

        def save(form: dict[str, Any], version: int | None) -> Any:
            return services.update_contact(contact.id, expected_version=version, **form)

        form = ContactForm(self._customer_name(), save, contact=values, version=contact.version)
        self.app.push_screen(form, self._saved("Contact saved (ctrl+z takes it back)"))

    def action_delete_contact(self) -> None:
        contact = self._contact()
        if contact is None or not self._ready():
            return
        from crm_tui.tui.modals.confirm import ConfirmScreen

        services = self.app.services
        assert services is not None  # _ready

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_service(
                    lambda: services.delete_contact(contact.id),
                    success=f"Deleted contact '{safe(contact.name)}' — ctrl+z brings it back",
                )

        question = f"Delete contact '{contact.name}' of '{self._customer_name()}'?"
        self.app.push_screen(ConfirmScreen(question, "ctrl+z brings it back."), answered)

    def action_notes(self) -> None:
        if not self._ready():
            return
        assert self.detail is not None  # _ready
        from crm_tui.tui.note_actions import open_notes

        open_notes(self, self._customer_name(), self.detail.notes)

    def action_add_task(self) -> None:
        if not self._ready():
            return
        from crm_tui.tui.modals.task_form import TaskFormScreen
        from crm_tui.tui.savers import task_saver

        name = self._customer_name()
        save = task_saver(self.app, customer=(self.customer_id, name))
        form = TaskFormScreen(f"Task for {name}", save, values={"owner": self.app.user or "", "customer": name})
        self.app.push_screen(form, self._saved("Task added"))
