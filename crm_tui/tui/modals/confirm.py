"""A yes/no question before something destructive: ``ConfirmScreen(question) → bool``."""

from __future__ import annotations

from collections.abc import Sequence

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import Button, Static

from crm_tui.tui.literal import literal
from crm_tui.tui.modals.early_keys import EarlyKeysModal


class ConfirmScreen(EarlyKeysModal[bool]):
    """Dismisses with True (``y`` / the confirm button) or False (``n`` / escape / the cancel button).

    Only an answer given after the question is on the screen counts. A delete is one
    letter (``d``) and ``y`` is the next letter a rep might type for something else:
    keys that arrive in the same burst as the key that opened this dialog — before
    the rep could have read it — must never answer it. So keys typed before the
    dialog had focus are dropped, not replayed (``EarlyKeysModal`` finds them even
    when they reach the app after the dialog is up), and ``y`` / ``n`` / the buttons
    do nothing until the first frame showing the question has been drawn
    (``answerable``). The cancel button has focus, so ``enter`` never confirms by
    default. ``question`` and ``detail`` are shown literally (names are never markup).
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

    #: the question has been drawn: from now on a key or a click is an answer
    answerable: var[bool] = var(False)

    def __init__(
        self,
        question: str,
        detail: str = "",
        *,
        confirm_label: str = "Delete",
        cancel_label: str = "Cancel",
        danger: bool = True,
    ) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label
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
                yield Button(f"{self.cancel_label} (n)", id="confirm-no")

    def first_focus(self) -> Widget | None:
        return self.query_one("#confirm-no", Button)

    def replay(self, keys: Sequence[events.Key]) -> None:
        """Keys typed before the question was up are not answers: dropped."""
        self.call_after_refresh(self._drawn)

    def _drawn(self) -> None:
        self.answerable = True

    def watch_answerable(self, answerable: bool) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.caught_up and self.answerable

    def action_answer(self, yes: bool) -> None:
        if self.answerable:
            self.dismiss(yes)

    @on(Button.Pressed, "#confirm-yes")
    def _yes(self) -> None:
        self.action_answer(True)

    @on(Button.Pressed, "#confirm-no")
    def _no(self) -> None:
        self.action_answer(False)
