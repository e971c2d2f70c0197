"""The notes of a customer (its own and its deals'), newest first, to edit or delete one:
``N`` on the customer page. The list only picks; the page asks and does the change.

Dismisses with ``("edit", note)``, ``("delete", note)`` or None (escape)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from crm_tui.tui.literal import safe

if TYPE_CHECKING:
    from crm_tui.queries.customer_detail import NoteLine

NotePick = tuple[str, "NoteLine"]


def note_label(note: NoteLine, *, width: int = 60) -> Text:
    """One line: when (local time), who, the note's first line cut to ``width``, the deal it is about."""
    lines = note.body.strip().splitlines()
    first = lines[0] if lines else ""
    more = len(lines) > 1 or len(first) > width
    label = Text()
    label.append(note.created_at.astimezone().strftime("%Y-%m-%d %H:%M"), style="dim")
    label.append("  ")
    label.append(safe(first[:width]) + ("…" if more else ""))
    if note.deal:
        label.append(f" · {safe(note.deal)}", style="dim")
    if note.author:
        label.append(f"  {safe(note.author)}", style="dim")
    return label


class NotesPicker(ModalScreen["NotePick | None"]):
    CSS_PATH = "notes_picker.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close", id="notes.close", tooltip="Close the notes"),
        Binding("e", "pick('edit')", "Edit", id="notes.edit", tooltip="Edit the highlighted note"),
        Binding("d", "pick('delete')", "Delete", id="notes.delete", tooltip="Delete the highlighted note (asks)"),
    ]

    def __init__(self, customer_name: str, notes: Sequence[NoteLine]) -> None:
        super().__init__()
        self.customer_name = customer_name
        self.notes = list(notes)

    def compose(self) -> ComposeResult:
        with Vertical(id="notes-dialog"):
            title = Text(f"Notes on {safe(self.customer_name)} ({len(self.notes)})", style="bold")
            yield Label(title, id="notes-title")
            yield OptionList(*(Option(note_label(n), id=str(n.id)) for n in self.notes), id="notes-list")
            yield Label("enter or e edits · d deletes (asks) · escape closes", id="notes-keys")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0 if self.notes else None
        options.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("edit", self.notes[event.option_index]))

    def action_pick(self, what: str) -> None:
        at = self.query_one(OptionList).highlighted
        if at is not None and 0 <= at < len(self.notes):
            self.dismiss((what, self.notes[at]))

    def action_close(self) -> None:
        self.dismiss(None)
