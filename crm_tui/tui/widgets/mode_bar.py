"""The row of screen names at the top: where you are, and a click away from the rest."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

MODES = (
    ("1", "customers", "Customers"),
    ("2", "pipeline", "Pipeline"),
    ("3", "tasks", "Tasks"),
    ("4", "reports", "Reports"),
)


class ModeBar(Static):
    DEFAULT_CSS = """
    ModeBar {
        dock: top;
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text-muted;
    }
    """

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def on_mount(self) -> None:
        parts: list[Content] = []
        for key, mode, title in MODES:
            label = Content.from_markup(f" [@click=app.switch_mode('{mode}')]{key} {title}[/] ")
            if mode == self.current:
                label = label.stylize("bold reverse")
            parts.append(label)
        parts.append(Content.from_markup("  [dim]? keys · ctrl+p commands[/]"))
        self.update(Content("").join(parts))
