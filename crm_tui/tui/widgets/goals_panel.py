"""The Reports screen's goals panel: each goal's progress in its period and what it takes.

Fed plain rows (``GoalLine``) by the screen; it reads nothing itself. Every name in a row is
shown literally (``safe``), never as markup; colours come from the theme (component classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from crm_tui.tui.literal import safe

BAR_WIDTH = 12


@dataclass(frozen=True)
class GoalLine:
    """One goal as the panel shows it."""

    id: int
    owner: str  # "" for everyone
    attainment: float  # actual ÷ target
    state: str  # "met", "ahead" or "behind"
    progress: str  # "Dec: 35% of 2,000 won · 16 days left · behind ▼"
    takes: str  # "1,300 to go · ≈3 wins at 500 · ..."


class GoalsPanel(Static):
    COMPONENT_CLASSES = {"goals-panel--met", "goals-panel--ahead", "goals-panel--behind", "goals-panel--muted"}
    DEFAULT_CSS = """
    GoalsPanel {
        height: auto;
        margin: 0 1 1 1;
        padding: 0 1;
        background: $boost;
        border-left: outer $accent;
    }
    GoalsPanel > .goals-panel--met { color: $text-success; }
    GoalsPanel > .goals-panel--ahead { color: $text-success; }
    GoalsPanel > .goals-panel--behind { color: $text-warning; }
    GoalsPanel > .goals-panel--muted { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.rows: tuple[GoalLine, ...] | None = None  # None: not read yet
        self.owner: str | None = None  # the owner the rows were read for (None: everyone's)

    def on_mount(self) -> None:
        self._draw()

    def show(self, rows: Sequence[GoalLine], owner: str | None = None) -> None:
        self.rows, self.owner = tuple(rows), owner
        self._draw()

    def _draw(self) -> None:
        out = Text()
        out.append("Goals", style="bold")
        if self.rows is None:
            out.append("  …")
            self.update(out)
            return
        muted = self.get_component_rich_style("goals-panel--muted", partial=False)
        if not self.rows and self.owner:  # everyone's goals are not this owner's: said, not "none set"
            out.append(f"  none for {safe(self.owner)}; g sets one, o shows everyone's", style=muted)
            self.update(out)
            return
        if not self.rows:
            out.append("  none set yet; press g to set one", style=muted)
            self.update(out)
            return
        out.append(f"  {len(self.rows)} this period · g sets one, G removes one", style=muted)
        for row in self.rows:
            style = self.get_component_rich_style(f"goals-panel--{row.state}", partial=False)
            filled = min(BAR_WIDTH, round(row.attainment * BAR_WIDTH))
            out.append("\n")
            out.append((safe(row.owner) or "everyone")[:12].ljust(13))
            out.append("█" * filled, style=style)
            out.append("░" * (BAR_WIDTH - filled), style=muted)
            out.append(" ")
            out.append(safe(row.progress), style=style)
            out.append("\n" + " " * 13)
            out.append(safe(row.takes), style=muted)
        self.update(out)
