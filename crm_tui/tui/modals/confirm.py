"""A yes/no question before something destructive: ``ConfirmScreen(question) → bool``."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from crm_tui.tui.literal import literal


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (``y`` / the confirm button) or False (``n`` / escape).

    ``question`` and ``detail`` are shown literally (names are never markup).
    """

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
        & > #confirm-box {
            width: 60;
            max-width: 100%;
            height: auto;
            border: thick $warning;
            background: $surface;
            padding: 1 2;
        }
        & #confirm-question { text-style: bold; }
        & #confirm-detail { color: $text-muted; margin-top: 1; }
        & #confirm-buttons { height: auto; align-horizontal: right; margin-top: 1; }
        & #confirm-buttons Button { margin-left: 1; }
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Go ahead"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Keep everything as it is"),
    ]

    def __init__(self, question: str, detail: str = "", *, confirm_label: str = "Delete", danger: bool = True) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.confirm_label = confirm_label
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(literal(self.question, wrap=True), id="confirm-question")
            if self.detail:
                yield Static(literal(self.detail, wrap=True), id="confirm-detail")
            with Horizontal(id="confirm-buttons"):
                yield Button(
                    f"{self.confirm_label} (y)", id="confirm-yes", variant="error" if self.danger else "primary"
                )
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed, "#confirm-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def _no(self) -> None:
        self.dismiss(False)
