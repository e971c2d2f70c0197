"""What the Customers list (crm_tui.tui.screens.customers) shows: the table's columns, a
``CustomerRow`` turned into its cells, and the page cache the table draws its rows from (``PAGE``
rows a page, at most ``MAX_PAGES`` held, the least recently used dropped first); the four filter
menus, built, filled with their choices and cleared; the summary line above the table (the count,
matching or in total, and the sort with its arrow) and the table's text when it lists no one; the
order ``s`` cycles the sort through; a row's email or phone for the copy and open keys (or the
warning that it has none), and the words of the delete confirmation.

It reads nothing and starts no worker: the screen's thread workers turn the rows they read into
cells here, and its handlers and actions call the rest on the UI thread. Its imports are the
screen's own, light enough for the first paint (no SQL).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from textual.widgets import Select, Static

from crm_tui.queries.customer_types import CustomerFilter, CustomerRow, Keyset, Sort
from crm_tui.textnorm import money_text
from crm_tui.tui.literal import literal
from crm_tui.tui.widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from textual.dom import DOMNode
    from textual.widget import Widget

    from crm_tui.queries.customers import FilterChoices

#: a row of the page cache: the customer's id, its cells, and where a page starting after it begins
PageRow = tuple[int, tuple[Any, ...], Keyset]

PAGE = 200
MAX_PAGES = 40  # at most 8,000 rows held, whatever the table size

STATUSES = ("lead", "prospect", "customer", "churned")
SORT_ORDER = ("name", "status", "owner", "email", "phone", "industry", "tags", "updated")

COLUMNS = (
    Column("name", "Name", 18, priority=0, flex=True),
    Column("status", "Status", 8, priority=1),
    Column("owner", "Owner", 10, priority=3),
    Column("email", "Email", 22, priority=4),
    Column("phone", "Phone", 16, priority=5),
    Column("industry", "Industry", 12, priority=6),
    Column("tags", "Tags", 14, priority=8),
    Column("open_value", "Open deals", 12, priority=2, align="right", sortable=False),
    Column("updated", "Updated", 10, priority=7),
)


def row_cells(row: CustomerRow) -> tuple[str, ...]:
    """A ``CustomerRow`` → the table's cells, in ``COLUMNS`` order (updated in local time)."""
    return (
        row.name,
        row.status,
        row.owner,
        row.email,
        row.phone,
        row.industry,
        row.tags,
        money_text(row.open_value_cents) if row.open_value_cents else "",
        row.updated_at.astimezone().date().isoformat(),
    )


def page_rows(rows: Iterable[CustomerRow]) -> list[PageRow]:
    """Rows read → rows of the page cache: each one's id, cells and keyset."""
    return [(r.id, row_cells(r), r.keyset) for r in rows]


class Pages(OrderedDict[int, list[PageRow]]):
    """The page cache: page number → its rows (``PAGE`` of them, fewer for the last page or a
    first page cut short), at most ``MAX_PAGES`` pages; the screen moves a page it is asked for
    to the end, so the least recently used is dropped first."""

    def cells(self, index: int) -> tuple[Any, ...] | None:
        """The cells of the table's row ``index``; None while its page is not held."""
        page = self.get(index // PAGE)
        if page is None:
            return None
        offset = index % PAGE
        return page[offset][1] if offset < len(page) else None

    def id_at(self, index: int) -> int | None:
        """The id of the customer on the table's row ``index``; None while its page is not held."""
        page = self.get(index // PAGE)
        offset = index % PAGE
        return page[offset][0] if page is not None and offset < len(page) else None

    def store(self, number: int, rows: list[PageRow]) -> None:
        """Hold ``rows`` as page ``number``, the most recent; drop the oldest beyond ``MAX_PAGES``."""
        self[number] = rows
        self.move_to_end(number)
        while len(self) > MAX_PAGES:
            self.popitem(last=False)


# -- the filter menus ---------------------------------------------------------------------


def filter_menus() -> list[Select[str]]:
    """The four filter menus (``#filter-KEY``, KEY a ``CustomerFilter`` field or ``segment``):
    status with its options, owner, tag and segment empty until their choices are read."""
    return [
        Select([(s, s) for s in STATUSES], prompt="status", id="filter-status", compact=True),
        Select([], prompt="owner", id="filter-owner", compact=True),
        Select([], prompt="tag", id="filter-tag", compact=True),
        Select([], prompt="segment", id="filter-segment", compact=True),
    ]


def fill_menus(screen: DOMNode, choices: FilterChoices, segments: Sequence[str]) -> None:
    """The owner, tag and segment menus under ``screen`` given their choices (each shown as typed),
    each keeping the value chosen if it is still one; no ``Select.Changed`` while they change."""
    for wid, values in (
        ("#filter-owner", choices.owners),
        ("#filter-tag", choices.tags),
        ("#filter-segment", segments),
    ):
        select = screen.query_one(wid, Select)
        current = select.value
        with screen.prevent(Select.Changed):
            select.set_options([(literal(v), v) for v in values])
            if current in values:
                select.value = current


def clear_menus(screen: DOMNode) -> None:
    """Every filter menu under ``screen`` back to its prompt (no choice)."""
    for select in screen.query("#customers-filters Select").results(Select):
        select.clear()


def filter_key(select_id: str | None) -> str:
    """The menu ``#filter-KEY`` → KEY: the ``CustomerFilter`` field it sets, or ``segment``."""
    return (select_id or "").removeprefix("filter-")


# -- what is shown above the table ----------------------------------------------------------


def is_filtered(filt: CustomerFilter, segment: str | None) -> bool:
    """Whether the list shows only some customers: a search, a menu or a segment chosen."""
    return bool(filt.text.strip() or filt.status or filt.owner is not None or filt.tag or segment)


def show_summary(screen: DOMNode, total: int, filtered: bool, sort: Sort) -> None:
    """The line above the table under ``screen`` — how many customers, matching or in total, and
    the sort — and the sort's arrow in the table's header."""
    arrow = "▼" if sort.descending else "▲"
    count = f"{total:,}"
    parts = [f"Customers · {count} {'matching' if filtered else 'in total'}"]
    parts.append(f"sorted by {sort.column} {arrow}")
    # one fixed line: no screen layout per keystroke
    screen.query_one("#customers-summary", Static).update(literal(" · ".join(parts)), layout=False)
    screen.query_one("#customers-table", VirtualTable).set_sort(sort.column, sort.descending)


def empty_text(filtered: bool) -> str:
    """What the table says when it lists no one."""
    return "No customers match" if filtered else "No customers yet — press n to add one"


def next_sort(column: str) -> str:
    """The column ``s`` sorts by after ``column`` (round ``SORT_ORDER``)."""
    return SORT_ORDER[(SORT_ORDER.index(column) + 1) % len(SORT_ORDER)]


# -- a row's email or phone, and its deletion -----------------------------------------------


def reachable(screen: Widget, cells: tuple[Any, ...], field: str) -> tuple[str, str] | None:
    """A row's ``email`` or ``phone`` (stripped) and its name; None when it has none, said in a
    warning on ``screen``."""
    index = next(i for i, column in enumerate(COLUMNS) if column.key == field)
    name, value = str(cells[0]), str(cells[index] or "").strip()
    if not value:
        label = "email" if field == "email" else "phone number"
        screen.notify(f"'{name}' has no {label} on file; e edits the customer", severity="warning", markup=False)
        return None
    return value, name


def delete_question(name: object) -> tuple[str, str]:
    """The confirmation before deleting the customer ``name``: its question and detail."""
    question = f"Delete customer '{name}'?"
    return question, "It disappears from every list and figure. ctrl+z brings it back."
