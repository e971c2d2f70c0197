"""A generic picker: a titled list of choices; enter picks, escape cancels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from crm_tui.tui.literal import safe


class PickScreen(ModalScreen[Any]):
    """``PickScreen("Pipeline", [("Sales", 1), ...], current=1)`` → dismisses with the value (or None)."""

    CSS_PATH = "pick.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pick.cancel", tooltip="Close without choosing")]

    def __init__(self, title: str, choices: Sequence[tuple[str, Any]], *, current: Any = None) -> None:
        super().__init__()
        self._title = title
        self._choices = list(choices)
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-dialog"):
            yield Label(Text(self._title), id="pick-title")
            options = [
                Option(Text(("● " if v == self._current else "  ") + safe(label)), id=str(i))
                for i, (label, v) in enumerate(self._choices)
            ]
            yield OptionList(*options, id="pick-list")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        for i, (_label, value) in enumerate(self._choices):
            if value == self._current:
                options.highlighted = i
                break
        else:
            options.highlighted = 0 if self._choices else None

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._choices[event.option_index][1])  # the options are the choices, in order

    def action_cancel(self) -> None:
        self.dismiss(None)
