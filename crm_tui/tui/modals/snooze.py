"""Snooze a task: +1 day, +3 days, +1 week, or to a date typed in (``fri``, ``next week``, ``+2w``, ISO)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.config import default_due_time
from crm_tui.dates import MOMENT_HINT
from crm_tui.errors import ValidationError
from crm_tui.tui.literal import safe
from crm_tui.tui.modals.early_keys import EarlyKeysModal
from crm_tui.tui.modals.form import app_now
from crm_tui.validate import natural_moment


class SnoozeScreen(EarlyKeysModal[dict[str, Any] | None]):
    """Dismisses with ``{"days": n}`` or ``{"until": aware datetime}`` (the services' snooze_task kwargs).

    Typing a letter or digit goes straight to the date box: ``s`` then ``fri`` snoozes to Friday
    (a date alone means the rep's default due time, 09:00 unless set).
    """

    CSS_PATH = "snooze.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="snooze.cancel", tooltip="Keep the due date")]

    def __init__(self, subject: str) -> None:
        super().__init__()
        self._subject = subject

    def compose(self) -> ComposeResult:
        with Vertical(id="snooze-dialog"):
            yield Label(Text(f"Snooze '{safe(self._subject)}'"), id="snooze-title")
            yield OptionList(
                Option("+1 day", id="1"),
                Option("+3 days", id="3"),
                Option("+1 week", id="7"),
                Option("Pick a date… (or just type it)", id="date"),
                id="snooze-options",
            )
            yield Input(placeholder=MOMENT_HINT, id="snooze-date")
            yield Static("", id="snooze-error")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0

    def first_focus(self) -> Widget | None:
        return self.query_one(OptionList)

    def _date_box(self) -> Input:
        date_input = self.query_one("#snooze-date", Input)
        date_input.add_class("shown")
        self.set_focus(date_input)
        return date_input

    def replay(self, keys: Sequence[events.Key]) -> None:
        """A burst starting with a printable key is a date being typed: it goes to the date box."""
        if keys and keys[0].is_printable:
            self._date_box()
        super().replay(keys)

    def on_key(self, event: events.Key) -> None:
        # a letter or digit that reached the screen was not taken by a text box: it starts a date
        if self.caught_up and event.is_printable:
            event.stop()
            event.prevent_default()
            self._date_box().post_message(self.again(event))

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == "date":
            self._date_box()
        elif event.option.id is not None:
            self.dismiss({"days": int(event.option.id)})

    @on(Input.Submitted)
    def _date(self, event: Input.Submitted) -> None:
        try:
            when = natural_moment(event.value, "snooze date", now=app_now(self.app), default_time=default_due_time())
            if when is None:
                raise ValidationError("type a date such as fri, +3d or 2026-04-01")
            if when <= app_now(self.app):
                raise ValidationError(f"snooze to a time in the future; {when.astimezone():%a %b %d %H:%M} has passed")
        except ValidationError as exc:
            error = self.query_one("#snooze-error", Static)
            error.update(Text(exc.message))
            error.add_class("shown")
            return
        self.dismiss({"until": when})

    @on(Input.Changed)
    def _typed(self) -> None:
        self.query_one("#snooze-error", Static).remove_class("shown")

    def action_cancel(self) -> None:
        self.dismiss(None)
