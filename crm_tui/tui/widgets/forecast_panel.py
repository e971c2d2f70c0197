"""The Reports screen's forecast panel: the period's forecast by category (what is won, what the
reps commit, their best case, the rest of the pipeline) and the months ahead, stage-weighted
beside the forecast learned from the book's own history with its 80% range.

Fed plain figures (integer cents) by the screen; it reads nothing itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from crm_tui.textnorm import money_whole

#: the categories in the order a forecast call reads them, and what the panel calls them
CATEGORY_ORDER = (
    ("closed", "Closed (won)"),
    ("commit", "Commit"),
    ("best_case", "Best case"),
    ("pipeline", "Pipeline"),
)


def _deals(n: int) -> str:
    return f"{n:,} deal{'' if n == 1 else 's'}"


class MonthLine(NamedTuple):
    month: str  # YYYY-MM
    weighted: int  # cents
    learned: int
    low: int
    high: int


class ForecastPanel(Static):
    DEFAULT_CSS = """
    ForecastPanel {
        height: auto;
        padding: 0 1;
        margin: 1 0 0 0;
        background: $boost;
        border-left: outer $accent;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._head: Text | None = None
        self._categories: Table | None = None
        self._months: Table | Text = Text("Months ahead: computing the learned forecast…", style="dim")

    def show_categories(
        self, title: str, cents: Mapping[str, int], counts: Mapping[str, int], undated: int, note: str = ""
    ) -> None:
        """The period's forecast by category; ``title`` names the period and the currency."""
        self._head = Text(title, style="bold")
        table = Table.grid(padding=(0, 2))
        for _ in range(4):
            table.add_column(justify="right")
        table.add_row(*(Text(label, style="dim") for _key, label in CATEGORY_ORDER))
        table.add_row(*(Text(money_whole(cents.get(key, 0)), style="bold") for key, _label in CATEGORY_ORDER))
        table.add_row(*(Text(_deals(counts.get(key, 0)), style="dim") for key, _label in CATEGORY_ORDER))
        closed, commit, best = (cents.get(k, 0) for k in ("closed", "commit", "best_case"))
        running = Text(f"closed + commit {money_whole(closed + commit)}", style="")
        running.append(f" · + best case {money_whole(closed + commit + best)}")
        if undated:
            running.append(f" · {undated:,} open deal{'s' if undated != 1 else ''} with no expected close", style="dim")
        if note:
            running.append(f" · {note}", style="dim")
        self._categories = Table.grid()
        self._categories.add_row(table)
        self._categories.add_row(running)
        self._render_all()

    def show_months(self, months: Sequence[MonthLine] | None, failed: str = "") -> None:
        """The months ahead (None: still computing)."""
        if months is None:
            self._months = Text(failed or "Months ahead: computing the learned forecast…", style="dim")
        else:
            table = Table(box=None, padding=(0, 2), show_edge=False, header_style="dim")
            table.add_column("Month")
            table.add_column("Stage-weighted", justify="right")
            table.add_column("Learned", justify="right")
            table.add_column("80% range", justify="right")
            for m in months:
                table.add_row(
                    m.month,
                    money_whole(m.weighted),
                    Text(money_whole(m.learned), style="bold"),
                    f"{money_whole(m.low)} – {money_whole(m.high)}",
                )
            self._months = table
        self._render_all()

    def clear(self) -> None:
        self._head = self._categories = None
        self._months = Text("Months ahead: computing the learned forecast…", style="dim")
        self.update("")

    def _render_all(self) -> None:
        parts: list[Table | Text] = []
        if self._head is not None:
            parts.append(self._head)
        if self._categories is not None:
            parts.append(self._categories)
        parts.append(self._months)
        self.update(Group(*parts))
