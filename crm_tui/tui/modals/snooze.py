"""Snooze a task: +1 day, +1 week, or to a date typed in."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.errors import ValidationError
from crm_tui.tui.literal import safe
from crm_tui.validate import timestamp


class SnoozeScreen(ModalScreen[dict | None]):
    """Dismisses with ``{"days": n}`` or ``{"until": aware datetime}`` (the services' snooze_task kwargs)."""

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
                Option("Pick a date…", id="date"),
                id="snooze-options",
            )
            yield Input(placeholder="YYYY-MM-DD or YYYY-MM-DD HH:MM (local time)", id="snooze-date")
            yield Static("", id="snooze-error")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == "date":
            date_input = self.query_one("#snooze-date", Input)
            date_input.add_class("shown")
            date_input.focus()
        else:
            self.dismiss({"days": int(event.option.id)})

    @on(Input.Submitted)
    def _date(self, event: Input.Submitted) -> None:
        try:
            value = event.value.strip()
            if len(value) == 10:  # a bare date means 09:00 local time that day
                value += " 09:00"
            when = timestamp(value, "snooze date")
            if when is None:
                raise ValidationError("type a date such as 2026-04-01")
        except ValidationError as exc:
            error = self.query_one("#snooze-error", Static)
            error.update(Text(exc.message))
            error.add_class("shown")
            return
        self.dismiss({"until": when})

    def action_cancel(self) -> None:
        self.dismiss(None)
