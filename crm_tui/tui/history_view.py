"""The History section of the deal and customer pages: the change journal, newest first.

Each entry is one line (when, who, what) and, under it, the fields it changed as a rep reads
them. Every string from the database is drawn literally.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from crm_tui.queries.history import HistoryItem, summary
from crm_tui.tui.literal import safe


def history_text(items: Sequence[HistoryItem], *, empty: str = "No changes recorded yet") -> Text:
    if not items:
        return Text(empty, style="italic")
    out = Text(no_wrap=True, overflow="ellipsis")
    for i, item in enumerate(items):
        if i:
            out.append("\n")
        out.append(item.at.astimezone().strftime("%Y-%m-%d %H:%M"), style="dim")
        out.append("  ")
        out.append(safe(item.who) or "—", style="dim")
        out.append("  ")
        out.append(safe(item.action), style="strike dim" if item.undone else "")
        if item.undone:
            out.append("  (undone)", style="dim")
        detail = summary(item)
        if detail:
            out.append("\n    ")
            out.append(safe(detail), style="dim")
    return out
