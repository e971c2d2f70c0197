"""The timeline of a deal or a customer page: activities, notes, stage changes and orders, newest
first, with a filter by kind (``f`` on the page cycles it: everything → activities → notes → stage
changes → orders).

The widget draws what the screen hands it (``show``); it reads nothing itself. Changing the filter
posts ``Timeline.FilterChanged`` so the screen reads that kind again (each kind is read with its
own limit); meanwhile the items already held are filtered at once. Every string from the database
is drawn literally; times are shown in local time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from crm_tui.textnorm import money_text
from crm_tui.tui.literal import literal, safe

if TYPE_CHECKING:  # plain data read by the screen's worker (crm_tui.queries.timeline)
    from crm_tui.queries.timeline import TimelineItem

#: the filter's steps: None shows everything; the others are ``TimelineItem.kind`` values
FILTERS: tuple[str | None, ...] = (None, "activity", "note", "stage", "order")
FILTER_NAMES = {
    None: "everything",
    "activity": "activities",
    "note": "notes",
    "stage": "stage changes",
    "order": "orders",
}
MARKERS = {"activity": "●", "note": "✎", "stage": "»", "order": "■"}


def local_time(at: dt.datetime) -> str:
    """``at`` in local time; in UTC where local time would pass year 9999."""
    try:
        return at.astimezone().strftime("%Y-%m-%d %H:%M")
    except OverflowError:
        return at.strftime("%Y-%m-%d %H:%M")


class Timeline(Widget):
    DEFAULT_CSS = """
    Timeline {
        height: auto;
        padding: 0 1;
    }
    Timeline > .timeline--heading { text-style: bold; }
    Timeline > .timeline--filter { color: $accent; text-style: bold; }
    Timeline > .timeline--time { color: $text-muted; }
    Timeline > .timeline--who { color: $text-muted; }
    Timeline > .timeline--activity { color: $accent; }
    Timeline > .timeline--note { color: $secondary; }
    Timeline > .timeline--stage { color: $primary; }
    Timeline > .timeline--order { color: $success; }
    Timeline > .timeline--outcome { text-style: bold; }
    Timeline > .timeline--empty { color: $text-muted; text-style: italic; }
    """
    COMPONENT_CLASSES = {
        "timeline--heading",
        "timeline--filter",
        "timeline--time",
        "timeline--who",
        "timeline--activity",
        "timeline--note",
        "timeline--stage",
        "timeline--order",
        "timeline--outcome",
        "timeline--empty",
    }

    #: the kind shown (None: everything)
    kind: reactive[str | None] = reactive(None, init=False)

    class FilterChanged(Message):
        """The rep picked another filter: read the timeline again with ``kinds``."""

        def __init__(self, timeline: Timeline, kind: str | None) -> None:
            super().__init__()
            self.timeline = timeline
            self.kind = kind

        @property
        def control(self) -> Timeline:
            return self.timeline

    def __init__(
        self,
        *,
        empty: str = "Nothing has happened yet",
        show_deal: bool = False,
        filter_key: str = "f",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.empty = empty
        self.show_deal = show_deal  # a customer's timeline names the deal an item was about
        self.filter_key = filter_key
        self.items: tuple[TimelineItem, ...] = ()
        self.loaded = False

    # -- what the screen calls ---------------------------------------------------------------

    def show(self, items: Sequence[TimelineItem]) -> None:
        self.items = tuple(items)
        self.loaded = True
        self.refresh(layout=True)

    def cycle(self) -> None:
        """The next filter: everything → activities → notes → stage changes → orders → everything."""
        self.kind = FILTERS[(FILTERS.index(self.kind) + 1) % len(FILTERS)]

    @property
    def kinds(self) -> tuple[str, ...] | None:
        """What the screen's read asks for (None: every kind)."""
        return None if self.kind is None else (self.kind,)

    @property
    def filter_name(self) -> str:
        return FILTER_NAMES[self.kind]

    def watch_kind(self, kind: str | None) -> None:
        self.refresh(layout=True)
        self.post_message(self.FilterChanged(self, kind))

    # -- drawing -----------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"timeline--{name}", partial=True)

    def shown_items(self) -> list[TimelineItem]:
        return [i for i in self.items if self.kind is None or i.kind == self.kind]

    def render(self) -> RenderableType:
        shown = self.shown_items()
        heading = Text("Timeline", style=self._style("heading"), no_wrap=True, overflow="ellipsis")
        heading.append(" · ")
        heading.append(
            self.filter_name if self.kind is None else f"{self.filter_name} only", style=self._style("filter")
        )
        heading.append(f" ({len(shown)})" if self.loaded else "")
        heading.append(f" · {self.filter_key} filters", style=self._style("who"))
        if not self.loaded or not shown:
            empty = "Loading…" if not self.loaded else self.empty if self.kind is None else f"No {self.filter_name} yet"
            return Group(heading, Text(empty, style=self._style("empty")))
        # one row per item: when and what kind in columns of their own, the rest wrapping beside them
        rows = Table.grid(padding=(0, 1), expand=True)
        rows.add_column(no_wrap=True)
        rows.add_column(no_wrap=True)
        rows.add_column(ratio=1, overflow="fold")
        for item in shown:
            label = item.activity if item.kind == "activity" and item.activity else item.kind
            rows.add_row(
                Text(local_time(item.at), style=self._style("time")),
                Text(f"{MARKERS.get(item.kind, '·')} {safe(label)}", style=self._style(item.kind)),
                self._text(item),
            )
        return Group(heading, rows)

    def _text(self, item: TimelineItem) -> Text:
        """What happened, then (dim) the deal it was about on a customer's timeline and who did it."""
        out = Text()
        if item.kind == "note":
            out.append_text(literal(item.detail.strip("\n"), wrap=True))
        elif item.kind == "activity":
            # a logged activity with no task of its own is called "Call: reached": its outcome says it
            generated = item.outcome and item.what.lower() == f"{item.activity}: {item.outcome}".lower()
            if not generated:
                out.append(safe(item.what))
            if item.outcome:
                out.append("" if generated else " · ")
                out.append(safe(item.outcome), style=self._style("outcome"))
        else:
            out.append(safe(item.what))
            if item.value_cents is not None:
                out.append(f" · {money_text(item.value_cents)}")
        if self.show_deal and item.deal:
            out.append(" · ", style=self._style("who"))
            out.append(safe(item.deal), style=self._style("who"))
        if item.who:
            out.append("  ")
            out.append(safe(item.who), style=self._style("who"))
        return out
