"""A KPI tile: a label, a big figure and a hint line (e.g. a count or formula); the funnel.

Money arrives as integer cents and is formatted by ``crm_tui.textnorm`` only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from crm_tui.textnorm import Cents, money_compact, money_text
from crm_tui.tui.literal import safe


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


class FunnelStage(Protocol):
    """What the funnel draws of a stage (``crm_tui.metrics.figures.StageFigures`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...  # open, won or lost
    @property
    def count(self) -> int: ...
    @property
    def value_cents(self) -> int: ...
    @property
    def conversion(self) -> float | None: ...
    @property
    def pipeline(self) -> str: ...


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

    def show_money(self, cents: Cents | None, hint: str = "") -> None:
        """Cents (exact; a fraction of a cent rounds half up) as '22,187,149.50', or '22.19M'
        when that does not fit; '—' when undefined."""
        if cents is None:
            self.show("—", hint)
        else:
            self.show(money_text(cents), hint, short=money_compact(cents))

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

    #: the stages drawn (None: nothing yet)
    stages: Sequence[FunnelStage] | None = None

    def show(self, stages: Sequence[FunnelStage]) -> None:
        self.stages = stages
        self._draw()

    def on_resize(self) -> None:
        if self.stages is not None:
            self._draw()

    def _draw(self) -> None:
        stages = self.stages or ()
        width = max(4, self.size.width - 2 - 14 - 7 - 15 - 7)
        top = max([s.count for s in stages] + [1])
        muted = self.get_component_rich_style("funnel--muted", partial=True)
        text = Text("Funnel · deals per stage · → conversion to the next stage\n", style=muted)
        # Several pipelines: each under its name, and one without a deal in the period left out.
        pipelines = list(dict.fromkeys(s.pipeline for s in stages))
        if len(pipelines) > 1:
            busy = {s.pipeline for s in stages if s.count}
            stages = [s for s in stages if s.pipeline in busy] or list(stages)
            pipelines = [p for p in pipelines if p in busy]
        heading = ""
        for s in stages:
            if len(pipelines) > 1 and s.pipeline != heading:
                heading = s.pipeline
                text.append(f"{safe(heading)}\n", style="bold underline")
            bar = "█" * max(1, round(width * s.count / top)) if s.count else "·"
            text.append(f"{safe(s.name)[:13]:<13} ", style="bold")
            text.append(f"{s.count:>6,} ")
            text.append(f"{money_text(s.value_cents):>14} ", style=muted)
            text.append(bar, style=self.get_component_rich_style(f"funnel--{s.kind}", partial=True))
            if s.conversion is not None:
                text.append(f" → {s.conversion * 100:.0f}%", style=muted)
            text.append("\n")
        text.rstrip()
        self.update(text)
