"""The customer list: a virtual table over 100k rows, search, filters, sort, CRUD.

Rows come a page at a time (``PAGE`` rows, a bounded LRU of pages) from
``crm_tui.queries.customers`` in thread workers, which post what they read back
as messages; the table shows "…" for a row whose page has not arrived and
repaints when it does. What the rep asks for — the filter, the segment, the sort
— is reactive state: any change to it, or to the data, starts a new
*generation*: results of older workers are dropped, and the cursor stays on the
same customer when it is still listed.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import var
from textual.widgets import Input, Select, Static

from crm_tui.queries.customer_types import CustomerFilter, Keyset, Sort
from crm_tui.tui.literal import safe
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.screens.customers_view import (
    COLUMNS,
    SORT_ORDER,
    PageRow,
    Pages,
    clear_menus,
    delete_question,
    empty_text,
    fill_menus,
    filter_key,
    filter_menus,
    is_filtered,
    next_sort,
    page_rows,
    reachable,
    show_summary,
)
from crm_tui.tui.screens.customers_view import MAX_PAGES as MAX_PAGES
from crm_tui.tui.screens.customers_view import PAGE as PAGE
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.tui.widgets.mode_bar import ModeBar
from crm_tui.tui.widgets.search_input import SearchInput
from crm_tui.tui.widgets.virtual_table import VirtualTable

if TYPE_CHECKING:  # read in workers: their imports stay off the first paint
    from concurrent.futures import Future

    from textual.timer import Timer
    from textual.widget import AwaitMount

    from crm_tui.models import Customer
    from crm_tui.queries.customers import FilterChoices
    from crm_tui.queries.first_page import FirstPage

FIRST_ROWS = 64  # of a new search or filter: a screenful comes back sooner than a whole page
COMPLETE_AFTER = 0.2  # s: the rest of that page, unless the next keystroke came first


class CustomersScreen(CrmScreen):
    CSS_PATH = "customers.tcss"
    WATCHES = frozenset({"customer", "deal", "contact", "note", "task"})
    BINDINGS = [
        Binding("slash", "search", "Search", id="customers.search", tooltip="Search name, email, phone, industry"),
        Binding("f", "filters", "Filter", id="customers.filter", tooltip="Filter by status, owner, tag or segment"),
        Binding("s", "cycle_sort", "Sort", id="customers.sort", tooltip="Sort by the next column"),
        Binding("S", "reverse_sort", "Reverse", show=False, id="customers.reverse", tooltip="Reverse the sort order"),
        Binding("n", "new", "New", id="customers.new", tooltip="Add a customer"),
        Binding("e", "edit", "Edit", id="customers.edit", tooltip="Edit the highlighted customer"),
        Binding(
            "d", "delete", "Delete", id="customers.delete", tooltip="Delete the highlighted customer (undo: ctrl+z)"
        ),
        Binding("escape", "clear", "Clear", show=False, id="customers.clear", tooltip="Clear the search and filters"),
        Binding(
            "y",
            "copy('email')",
            "Copy email",
            show=False,
            id="customers.copy_email",
            tooltip="Copy the highlighted customer's email to the clipboard (works over SSH)",
        ),
        Binding(
            "Y",
            "copy('phone')",
            "Copy phone",
            show=False,
            id="customers.copy_phone",
            tooltip="Copy the highlighted customer's phone number to the clipboard (works over SSH)",
        ),
        Binding(
            "ctrl+e",
            "open_link('email')",
            "Email",
            show=False,
            id="customers.mail",
            tooltip="Write to the highlighted customer's email in your mail app (mailto:; needs a desktop, not SSH)",
        ),
        Binding(
            "ctrl+t",
            "open_link('phone')",
            "Call",
            show=False,
            id="customers.call",
            tooltip="Call the highlighted customer's phone number with your phone app (tel:; needs a desktop, not SSH)",
        ),
    ]

    #: what the list shows: search text, status, owner, tag (light dataclasses: no SQL before first paint)
    customer_filter: var[CustomerFilter] = var(CustomerFilter, init=False)
    #: customers of one RFM segment only (None: every customer)
    segment: var[str | None] = var(None, init=False)
    sort: var[Sort] = var(Sort, init=False)

    class ListLoaded(Message):
        """A new list: its count, where the cursor goes, and the page under it."""

        def __init__(
            self,
            generation: int,
            filt: CustomerFilter,
            total: int,
            cursor: int,
            number: int,
            page: list[PageRow],
            segments: dict[int, str] | None,
        ) -> None:
            super().__init__()
            self.generation, self.filt, self.total, self.cursor = generation, filt, total, cursor
            self.number, self.page, self.segments = number, page, segments

    class PageLoaded(Message):
        def __init__(self, generation: int, number: int, page: list[PageRow], after: int | None) -> None:
            super().__init__()
            self.generation, self.number, self.page, self.after = generation, number, page, after

    class ChoicesLoaded(Message):
        def __init__(self, choices: FilterChoices, segments: tuple[str, ...]) -> None:
            super().__init__()
            self.choices = choices
            self.segments = segments

    def __init__(self) -> None:
        super().__init__()
        self._segments: dict[int, str] | None = None  # cache of customer_segments, dropped on change
        self._keep_after_change: int | None = None  # the customer the cursor stays on when the state changes
        self._generation = 0
        self._pages = Pages()
        self._pending: set[int] = set()
        self._waiting: dict[int, Timer] = {}  # page number → the timer that completes it
        self._total = 0
        self._keep_id: int | None = None
        self._choices_loaded = False
        self._filters_mount: AwaitMount | None = None

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ModeBar("customers")
        yield Static("Customers", id="customers-summary", markup=False)
        with Horizontal(id="customers-filters"):
            yield SearchInput(self._apply_search, placeholder="/ search", id="customers-search", compact=True)
            # The filter menus follow once the first rows are painted (_filter_menus).
        yield VirtualTable(
            COLUMNS, self._row_at, placeholder="…", empty_text="Loading customers…", id="customers-table"
        )
        yield KeyBar()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#customers-table", VirtualTable)

    def _filter_menus(self) -> AwaitMount:
        """Mount the four filter menus, once; await the result before using them.

        They are not composed with the screen: each Select is a small tree of widgets, and styling
        them was a fifth of start-up's time to the first rows (benchmarks/run.py), so they come a
        frame after the rows.
        """
        if self._filters_mount is None:
            self._filters_mount = self.query_one("#customers-filters", Horizontal).mount_all(filter_menus())
        return self._filters_mount

    def on_mount(self) -> None:
        self.table.set_sort(self.sort.column, self.sort.descending)
        self.table.focus()
        if self.app.db is None:
            from crm_tui.queries.first_page import read_ahead

            ahead = self.app.take_first_page() or read_ahead(self.app.db_spec, PAGE)
            if ahead is not None:
                self._quick_first_page(ahead)

    @work(thread=True, exclusive=True, group="customers-list", exit_on_error=False)
    def _quick_first_page(self, ahead: Future[FirstPage | None]) -> None:
        """The first page read with plain sqlite3 while the database layer loads (see first_page)."""
        found = ahead.result()
        if found is not None:
            total, rows = found
            self.post_message(self.ListLoaded(0, CustomerFilter(), total, 0, 0, page_rows(rows), None))

    # -- the page cache -------------------------------------------------------------------

    def _row_at(self, index: int) -> tuple[Any, ...] | None:
        return self._pages.cells(index)

    def _id_at(self, index: int) -> int | None:
        return self._pages.id_at(index)

    def current_id(self) -> int | None:
        return self._id_at(self.table.cursor_row) if self._total else None

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        """Data changed (or the DB just opened): refetch, keeping the cursor on its customer."""
        self._segments = None
        self._choices_loaded = False
        self._restart(keep_id=self._keep_id or self.current_id())

    def _restart(self, keep_id: int | None = None) -> None:
        if self.app.db is None:
            return
        self._generation += 1
        self._pending.clear()
        for timer in self._waiting.values():
            timer.stop()
        self._waiting.clear()
        self._keep_id = keep_id
        cursor = self.table.cursor_row if keep_id is not None else 0
        self._load_list(
            self._generation, self.customer_filter, self.segment, self.sort, keep_id, cursor, self._segments
        )

    @work(thread=True, exclusive=True, group="customers-list", exit_on_error=False)
    def _load_list(
        self,
        generation: int,
        filt: CustomerFilter,
        segment: str | None,
        sort: Sort,
        keep_id: int | None,
        cursor: int,
        segments: dict[int, str] | None,
    ) -> None:
        """Count, find the kept customer, and fetch the page under the cursor (one worker at a time)."""
        from crm_tui.queries.customers import count_customers, customer_position, fetch_page, first_page

        db = self.app.db
        assert db is not None  # _restart() starts this only once the database is open
        if segment is not None:
            if segments is None:
                from crm_tui.metrics import customer_segments

                segments = customer_segments(db, self.app.clock())
            filt = replace(filt, segment_ids=frozenset(i for i, s in segments.items() if s == segment))
        if keep_id is None and cursor == 0:
            # A new search or filter: the first rows and the count in one read, and in one
            # hand-off, so a keystroke repaints once. The rows on screen come first; the rest
            # of the page follows when asked for.
            rows, total = first_page(db, filt, sort, FIRST_ROWS)
            self.post_message(self.ListLoaded(generation, filt, total, 0, 0, page_rows(rows), segments))
            return
        total = count_customers(db, filt)
        if keep_id is not None:
            position = customer_position(db, filt, sort, keep_id)
            cursor = position if position is not None else cursor
        cursor = min(max(0, cursor), max(0, total - 1))
        number = cursor // PAGE
        rows = fetch_page(db, filt, sort, number * PAGE, PAGE)
        self.post_message(self.ListLoaded(generation, filt, total, cursor, number, page_rows(rows), segments))

    @on(ListLoaded)
    def _list_loaded(self, event: ListLoaded) -> None:
        generation, filt, total, cursor, number, page = (
            event.generation, event.filt, event.total, event.cursor, event.number, event.page
        )  # fmt: skip
        if generation != self._generation:
            return
        if event.segments is not None:
            self._segments = event.segments
        self._active_filter = filt  # with the segment's ids resolved, for page fetches
        self._pages_generation = generation  # whose rows the page cache holds
        self._pages.clear()
        self._pages.store(number, page)
        self._total = total
        self._keep_id = None
        self.table.empty_text = empty_text(self._is_filtered())
        self.table.set_row_count(total, cursor=cursor)
        self._update_summary()
        if self._filters_mount is None:
            self.call_after_refresh(self._filter_menus)
        if not self._choices_loaded and self.app.db is not None:
            self._choices_loaded = True  # after the rows: the list never waits for the filter menus
            self._load_choices()

    @on(VirtualTable.RowsNeeded)
    def _rows_needed(self, event: VirtualTable.RowsNeeded) -> None:
        if getattr(self, "_pages_generation", None) != self._generation or self.app.db is None:
            return  # the rows held are a previous search's: the new one's first rows are coming
        table = self.table
        shown_to = int(table.scroll_offset.y) + table.data_height  # rows below are the margin
        for number in range(event.start // PAGE, max(event.start, event.end - 1) // PAGE + 1):
            page = self._pages.get(number)
            if page is not None:
                self._pages.move_to_end(number)
                held = number * PAGE + len(page)
                if len(page) < PAGE and held < self._total:  # a first page cut short
                    waiting = self._waiting.get(number)
                    if held < shown_to and waiting is not None:  # its rows are on screen now
                        waiting.stop()
                        self._complete_page(self._generation, number)
                    elif number not in self._pending:
                        # Only the margin lacks them: once typing pauses, so a search typed
                        # quickly reads no page it will not show, and the next keystroke does not
                        # compete with it.
                        self._pending.add(number)
                        if held < shown_to:
                            self._complete_page(self._generation, number)
                        else:
                            self._waiting[number] = self.set_timer(
                                COMPLETE_AFTER, partial(self._complete_page, self._generation, number)
                            )
            elif number not in self._pending:
                self._pending.add(number)
                previous = self._pages.get(number - 1)
                at = previous[-1][2] if previous and len(previous) == PAGE else number * PAGE
                self._fetch_page(self._generation, self._active_filter, self.sort, number, at)

    def _complete_page(self, generation: int, number: int) -> None:
        """Read the rest of page ``number``, a first page cut short (if still the one held)."""
        self._waiting.pop(number, None)
        page = self._pages.get(number)
        if generation != self._generation or generation != self._pages_generation or page is None or len(page) >= PAGE:
            self._pending.discard(number)
            return
        self._fetch_page(generation, self._active_filter, self.sort, number, page[-1][2], PAGE - len(page), len(page))

    @work(thread=True, group="customers-page", exit_on_error=False)
    def _fetch_page(
        self,
        generation: int,
        filt: CustomerFilter,
        sort: Sort,
        number: int,
        at: int | Keyset,
        limit: int = PAGE,
        after: int | None = None,
    ) -> None:
        """Page ``number`` from ``at`` (an offset or the keyset of the row before), or — with
        ``after``, the rows held — the ``limit`` rows that complete a page cut short."""
        from crm_tui.queries.customers import fetch_page

        db = self.app.db
        assert db is not None  # _rows_needed() starts this only once the database is open
        rows = fetch_page(db, filt, sort, at, limit)
        self.post_message(self.PageLoaded(generation, number, page_rows(rows), after))

    @on(PageLoaded)
    def _page_loaded(self, event: PageLoaded) -> None:
        generation, number, page, after = event.generation, event.number, event.page, event.after
        if generation != self._generation:
            return
        self._pending.discard(number)
        if after is not None:  # the rest of a page cut short: only onto the very rows it follows
            held = self._pages.get(number)
            if held is None or len(held) != after:
                return  # that page was dropped meanwhile; it is read whole when needed again
            page = held + page
        self._pages.store(number, page)
        self.table.refresh_rows()

    @work(thread=True, exclusive=True, group="customers-choices", exit_on_error=False)
    def _load_choices(self) -> None:
        from crm_tui.metrics import SEGMENTS
        from crm_tui.queries.customers import filter_choices

        db = self.app.db
        assert db is not None  # _list_loaded() starts this only once the database is open
        self.post_message(self.ChoicesLoaded(filter_choices(db), SEGMENTS))

    @on(ChoicesLoaded)
    async def _choices_ready(self, event: ChoicesLoaded) -> None:
        await self._filter_menus()
        fill_menus(self, event.choices, event.segments)

    # -- what is shown above the table ----------------------------------------------------

    def _is_filtered(self) -> bool:
        return is_filtered(self.customer_filter, self.segment)

    def _update_summary(self) -> None:
        show_summary(self, self._total, self._is_filtered(), self.sort)

    # -- state ----------------------------------------------------------------------------

    def watch_customer_filter(self) -> None:
        self._state_changed()

    def watch_segment(self) -> None:
        self._state_changed()

    def watch_sort(self) -> None:
        self._update_summary()
        self._state_changed()

    def _state_changed(self) -> None:
        """Another question: a new generation (in the key press: a search result is sooner)."""
        keep, self._keep_after_change = self._keep_after_change, None
        self._restart(keep_id=keep)

    # -- search and filters ---------------------------------------------------------------

    def action_search(self) -> None:
        self.focus_now(self.query_one("#customers-search", Input))

    async def action_filters(self) -> None:
        await self._filter_menus()
        self.focus_now(self.query_one("#filter-status", Select))

    def _apply_search(self, text: str) -> None:
        """Each keystroke in the search box (no delay: a search is an indexed query of a few
        milliseconds, and a newer keystroke's generation drops an older one's results)."""
        if text != self.customer_filter.text:
            self.customer_filter = replace(self.customer_filter, text=text)

    @on(Input.Submitted, "#customers-search")
    def _search_done(self) -> None:
        self.focus_now(self.table)

    @on(Select.Changed)
    def _filter_changed(self, event: Select.Changed) -> None:
        value = event.value if isinstance(event.value, str) else None  # every option's value is a str; blank: None
        key = filter_key(event.select.id)
        if key == "segment":
            self.segment = value
        elif key in ("status", "owner", "tag"):
            changed: dict[str, Any] = {key: value}
            self.customer_filter = replace(self.customer_filter, **changed)

    def action_clear(self) -> None:
        search = self.query_one("#customers-search", Input)
        if not self._is_filtered() and not search.value:
            self.focus_now(self.table)
            return
        self._keep_after_change = self.current_id()
        with self.prevent(Select.Changed):  # first: the emptied box then changes nothing
            self.set_reactive(CustomersScreen.segment, None)
            self.customer_filter = CustomerFilter()
            search.value = ""
            clear_menus(self)
        self.focus_now(self.table)

    # -- sort -----------------------------------------------------------------------------

    def _set_sort(self, column: str, descending: bool) -> None:
        self._keep_after_change = self.current_id()
        self.sort = Sort(column, descending)

    def action_cycle_sort(self) -> None:
        self._set_sort(next_sort(self.sort.column), False)

    def action_reverse_sort(self) -> None:
        self._set_sort(self.sort.column, not self.sort.descending)

    @on(VirtualTable.HeaderSelected)
    def _header_clicked(self, event: VirtualTable.HeaderSelected) -> None:
        if event.key == self.sort.column:
            self.action_reverse_sort()
        elif event.key in SORT_ORDER:
            self._set_sort(event.key, False)

    # -- open, add, edit, delete ----------------------------------------------------------

    @on(VirtualTable.RowSelected)
    def _open(self, event: VirtualTable.RowSelected) -> None:
        customer_id = self._id_at(event.row)
        if customer_id is not None:
            self.app.open_customer(customer_id)

    def action_new(self) -> None:
        if self.app.services is None:
            return
        from crm_tui.tui.modals.customer_form import CustomerForm

        services = self.app.services
        form = CustomerForm({"owner": self.app.user or ""}, lambda values, _v: services.create_customer(**values))
        self.app.push_screen(form, self._saved)

    def _saved(self, customer: Customer | None) -> None:
        if customer is not None:
            self.notify(f"Saved '{customer.name}'", timeout=3, markup=False)
            self._restart(keep_id=customer.id)

    def _highlighted(self) -> int | None:
        """The customer the rep sees highlighted — only while the list has the keys (a key
        that reached the screen from a filter menu must not act on a row out of sight)."""
        customer_id = self.current_id() if self.table.has_focus else None
        if customer_id is None:
            self.notify("No customer highlighted; move to the list first (escape)", severity="warning", timeout=3)
        return customer_id

    def _reachable(self, field: str) -> tuple[str, str] | None:
        """The highlighted customer's email or phone and name; None (said) when it has none."""
        if self._highlighted() is None:
            return None
        cells = self._row_at(self.table.cursor_row)
        if cells is None:
            return None
        return reachable(self, cells, field)

    def action_copy(self, field: str) -> None:
        """The highlighted customer's email or phone onto the terminal's clipboard (OSC 52, which
        the terminal on the rep's own machine receives even over SSH)."""
        found = self._reachable(field)
        if found is not None:
            from crm_tui.tui.opener import copied

            self.app.copy_to_clipboard(found[0])
            self.notify(copied(field, *found), timeout=3, markup=False)

    def action_open_link(self, field: str) -> None:
        """mailto: or tel: in the desktop's mail or phone app (``crm_tui.tui.opener``); over SSH or
        without a desktop, one line saying so and which key copies it instead."""
        from crm_tui.tui.opener import open_contact

        found = self._reachable(field)
        if found is not None:
            opened = open_contact(field, *found)
            self.notify(safe(opened.reason), severity="information" if opened.ok else "warning", markup=False)

    def action_edit(self) -> None:
        customer_id = self._highlighted()
        if customer_id is not None and self.app.services is not None:
            self._load_for_edit(customer_id)

    @work(thread=True, exclusive=True, group="customers-edit", exit_on_error=False)
    def _load_for_edit(self, customer_id: int) -> None:
        from crm_tui.errors import CrmError
        from crm_tui.models import Customer

        services = self.app.services
        assert services is not None  # action_edit() starts this only once the database is open
        try:
            current = services.get(Customer, customer_id).model_dump()
        except CrmError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error", markup=False)
            return
        self.post_message(self.EditLoaded(current))

    class EditLoaded(Message):
        def __init__(self, current: dict[str, Any]) -> None:
            super().__init__()
            self.current = current

    @on(EditLoaded)
    def _edit_loaded(self, event: EditLoaded) -> None:
        from crm_tui.tui.modals.customer_form import CustomerForm

        current = event.current
        services, cid = self.app.services, current["id"]
        assert services is not None  # read by _load_for_edit() with them

        def save(values: dict[str, Any], version: int | None) -> Customer:
            return services.update_customer(cid, expected_version=version, **values)

        self.app.push_screen(CustomerForm(current, save), self._saved)

    def action_delete(self) -> None:
        index = self.table.cursor_row
        customer_id, cells = self._highlighted(), self._row_at(index)
        if customer_id is None or cells is None or self.app.services is None:
            return  # (the first page can show before the database is open: nothing to delete with yet)
        from crm_tui.tui.modals.confirm import ConfirmScreen

        name = cells[0]
        self.app.push_screen(ConfirmScreen(*delete_question(name)), partial(self._confirmed_delete, customer_id, name))

    def _confirmed_delete(self, customer_id: int, name: str, yes: bool | None) -> None:
        if not yes:
            return
        services = self.app.services
        assert services is not None  # action_delete() asks only once the database is open
        self.run_service(
            lambda: services.delete_customer(customer_id),
            done=lambda _row: self.notify(f"Deleted '{name}' — ctrl+z to undo", timeout=4, markup=False),
        )
