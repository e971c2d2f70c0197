"""A KPI tile: a label, a big figure and a hint line (e.g. a count or formula)."""

from __future__ import annotations

from decimal import Decimal

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from crm_tui.textnorm import money_text
from crm_tui.tui.literal import safe


def major_to_cents(value) -> int:
    """A JSON money number in major units → exact cents."""
    return int((Decimal(str(value or 0)) * 100).to_integral_value())


def money(value) -> str:
    """Major units (report JSON) → '12,345.00'."""
    return money_text(major_to_cents(value))


def compact_money(value) -> str:
    """Major units → '22.19M', '15.09k': for a tile too narrow to show every digit."""
    cents = major_to_cents(value)
    major = Decimal(cents) / 100
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if abs(major) >= size:
            return f"{(major / size).quantize(Decimal('0.01')):,}{suffix}"
    return money_text(cents)


def percent(rate) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


class KpiTile(Static):
    DEFAULT_CSS = """
    KpiTile {
        height: 3;
        padding: 0 1;
        background: $boost;
        border-left: outer $primary;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    KpiTile.-seed {
        border-left: outer $secondary;
    }
    """

    def __init__(self, label: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.value = self.short = "…"
        self.hint = ""

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def show(self, value: str, hint: str = "", short: str | None = None) -> None:
        """``short`` (e.g. 22.19M for 22,187,149.50) is shown when ``value`` does not fit."""
        self.value, self.hint, self.short = value, hint, short or value
        self._draw()

    def _draw(self) -> None:
        width = self.content_size.width
        value = self.value if not width or cell_len(self.value) <= width else self.short
        text = Text(self.label, style="dim")
        text.append("\n")
        text.append(value, style="bold")
        text.append("\n")
        text.append(self.hint, style="dim italic")
        self.update(text)


class Funnel(Static):
    """Stages as horizontal bars (deal counts) with the conversion to the next stage."""

    COMPONENT_CLASSES = {"funnel--open", "funnel--won", "funnel--lost", "funnel--muted"}
    DEFAULT_CSS = """
    Funnel { height: auto; padding: 0 1; }
    Funnel > .funnel--open { color: $primary; }
    Funnel > .funnel--won { color: $success; }
    Funnel > .funnel--lost { color: $error; }
    Funnel > .funnel--muted { color: $text-muted; }
    """

    def show(self, stages: list[dict]) -> None:
        self.stages = stages
        self._draw()

    def on_resize(self) -> None:
        if getattr(self, "stages", None) is not None:
            self._draw()

    def _draw(self) -> None:
        width = max(4, self.size.width - 2 - 14 - 7 - 15 - 7)
        top = max([s["count"] for s in self.stages] + [1])
        muted = self.get_component_rich_style("funnel--muted", partial=True)
        text = Text("Funnel · deals per stage · → conversion to the next stage\n", style=muted)
        for s in self.stages:
            bar = "█" * max(1, round(width * s["count"] / top)) if s["count"] else "·"
            text.append(f"{safe(s['name'])[:13]:<13} ", style="bold")
            text.append(f"{s['count']:>6,} ")
            text.append(f"{money(s['value']):>14} ", style=muted)
            text.append(bar, style=self.get_component_rich_style(f"funnel--{s['kind']}", partial=True))
            if s["conversion"] is not None:
                text.append(f" → {s['conversion'] * 100:.0f}%", style=muted)
            text.append("\n")
        text.rstrip()
        self.update(text)
