"""The row of section names at the top: where you are, and a click away from the rest.

The sections and their keys come from the app (``CrmApp.SECTIONS``, the one declaration of the
modes), so a remapped key shows as the key it is now.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static


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

    def __init__(self, current: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current = current

    def on_mount(self) -> None:
        self.watch(self.app, "due_today", self._show)

    def _show(self, due_today: int | None) -> None:
        app: Any = self.app
        parts: list[Content] = []
        for section in app.SECTIONS:
            key = app.section_key(section)
            label = Content.assemble(f" {key} {section.title} ")
            if section.mode == "tasks" and due_today:
                # what the rep has to do today, overdue included, on every screen
                label = Content.assemble(f" {key} {section.title} ", (f"({due_today})", "bold"), " ")
            label = label.stylize(f"@click=app.section('{section.mode}')")
            if section.mode == self.current:
                label = label.stylize("bold reverse")
            parts.append(label)
        parts.append(Content.from_markup("  [dim]? keys · ctrl+p commands[/]"))
        self.update(Content("").join(parts))
