"""Ask why a deal was lost; a reason is required."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from crm_tui.tui.literal import safe
from crm_tui.tui.modals.early_keys import EarlyKeysModal

COMMON_REASONS = ("Price too high", "Lost to a competitor", "No budget", "No decision", "Bad timing", "Went silent")


class LoseReasonScreen(EarlyKeysModal[str | None]):
    """Dismisses with the reason typed, or None. Keys typed right after ``x`` land in the reason."""

    CSS_PATH = "lose_reason.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="lose.cancel", tooltip="Keep the deal open")]

    def __init__(self, deal_title: str, *, won: bool = False) -> None:
        super().__init__()
        self._deal_title = deal_title
        self._won = won  # the deal is won now: losing it takes a win back, said before it is done

    def compose(self) -> ComposeResult:
        with Vertical(id="lose-dialog"):
            yield Label(Text(f"Lose '{safe(self._deal_title)}'"), id="lose-title")
            if self._won:
                yield Static(
                    Text("This deal is won. Marking it lost takes the win back out of the won figures."),
                    id="lose-won",
                )
            yield Static(Text("Why was it lost? e.g. " + ", ".join(COMMON_REASONS[:3])), classes="muted")
            yield Input(
                placeholder="reason (required); → completes a common one",
                id="lose-reason",
                suggester=SuggestFromList(COMMON_REASONS, case_sensitive=False),
            )
            yield Static("", id="lose-error")
            yield Label(f"enter: mark lost · escape: keep it {'won' if self._won else 'open'}", classes="muted")

    def first_focus(self) -> Widget | None:
        return self.query_one("#lose-reason", Input)

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if not reason:
            error = self.query_one("#lose-error", Static)
            error.update("A lost reason is required; type why the deal was lost.")
            error.add_class("shown")
            return
        self.dismiss(reason)

    @on(Input.Changed)
    def _typed(self) -> None:
        self.query_one("#lose-error", Static).remove_class("shown")

    def action_cancel(self) -> None:
        self.dismiss(None)
