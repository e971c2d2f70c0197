"""What the Reports screen (crm_tui.tui.screens.reports) shows of its figures: the layout of its
KPI tiles and tables (labels, column headings, the rows a table shows before it scrolls), the bar
that names the period, owner and currency, filling the tiles, the two charts and the owners,
segments, activities and outcomes tables from crm_tui.metrics figures, and the report as CSV.

It reads nothing and starts no worker: the screen's message handlers call it with the figures
their thread workers computed, on the UI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from crm_tui.metrics.activities import KINDS as ACTIVITY_KINDS
from crm_tui.money import missing_note
from crm_tui.textnorm import how_many, money_text
from crm_tui.tui.literal import safe
from crm_tui.tui.widgets.kpi import KpiTile, percent
from crm_tui.tui.widgets.table_height import fit_height

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.dom import DOMNode
    from textual.widgets import DataTable
    from textual_plotext import PlotextPlot

    from crm_tui.metrics import ReportFigures
    from crm_tui.metrics.activities import ActivityFigures
    from crm_tui.metrics.figures import (
        CustomerFigures,
        DealFigures,
        DemandFigures,
        MonthFigures,
        OrderFigures,
        OwnerFigures,
        SegmentFigures,
    )
    from crm_tui.metrics.shapes import Report

#: the activities table's kind columns, in ``metrics.activities.KINDS`` order (a kind without a
#: heading here fails at import, not as a column shifted on screen)
ACTIVITY_COLUMNS = tuple(
    {"call": "Calls", "email": "Emails", "meeting": "Meetings", "todo": "To-dos"}[kind] for kind in ACTIVITY_KINDS
)
#: each table's column headings, by the id the screen gives it
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "#owners-table": ("Owner", "Open", "Won", "Won value", "Lost", "Win rate"),
    "#segments-table": ("Segment (RFM)", "Customers", "Value"),
    "#activities-table": ("Activities done", *ACTIVITY_COLUMNS, "Total"),
    "#outcomes-table": ("Outcome", "Activities", "Share"),
}
#: rows each table shows before it scrolls
TABLE_ROWS = 13
#: the tiles (``#kpi-KEY``): the deal figures, then the seed figures
MAIN_TILES = (
    ("open", "Open pipeline"),
    ("weighted", "Weighted"),
    ("won", "Won"),
    ("win_rate", "Win rate"),
    ("avg", "Average deal"),
    ("cycle", "Sales cycle"),
    ("velocity", "Velocity/day"),
)
SEED_TILES = (
    ("M", "M demand P×Q"),
    ("C", "C customers Σc"),
    ("V", "V value Σv"),
    ("S", "S success A/B"),
    ("R", "R sales Σr"),
    ("O", "O orders Σo"),
    ("W", "W order value Σw"),
)

#: a chart's bars: (month YYYY-MM, height)
Bars = list[tuple[str, float]]


def report_bar_text(period: str, owner: str | None, figures: ReportFigures | None) -> Text:
    """The bar above the figures: the period, the owner, and (``figures``, once they say) the
    currency the money is in, with the currencies that could not be converted."""
    bar = Text("Reports", style="bold")
    bar.append("  period: ")
    bar.append(period, style="bold")
    bar.append("  owner: ")
    bar.append(safe(owner) if owner else "everyone", style="bold")
    if figures is not None:  # the money's currency, once the figures say which
        bar.append("  money in ")
        bar.append(safe(figures.currency), style="bold")
        if figures.unconverted:
            bar.append("  " + safe(missing_note(figures.unconverted, cli=False)), style="bold")
    return bar


def show_tiles(
    screen: DOMNode,
    d: DealFigures,
    c: CustomerFigures,
    o: OrderFigures,
    demand: Sequence[DemandFigures],
    owner: str | None = None,
) -> None:
    """The KPI tiles under ``screen`` (``#kpi-KEY``, MAIN_TILES and SEED_TILES). With an owner
    chosen, C and V still count every owner's customers (the owner filter is the deals'), and say so."""

    def tile(key: str) -> KpiTile:  # the money is in the home currency, which the bar above names
        return screen.query_one(f"#kpi-{key}", KpiTile)

    tile("open").show_money(d.open_cents, how_many(d.open_count, "open deal"))
    tile("weighted").show_money(d.weighted_cents, "amount × probability")
    tile("won").show_money(d.won_cents, f"{d.won_count:,} won · {d.lost_count:,} lost")
    tile("win_rate").show(percent(d.win_rate), f"by value {percent(d.win_rate_by_value)}")
    tile("avg").show_money(d.avg_won_cents, "won ÷ won count")
    cycle = d.avg_cycle_days
    tile("cycle").show("—" if cycle is None else f"{cycle:.1f} days", "created → won")
    tile("velocity").show_money(d.velocity_cents, "n × rate × avg ÷ cycle")
    tile("M").show_money(sum(row.demand_cents for row in demand), how_many(len(demand), "product") + " on open deals")
    # short enough for a tile's hint line at 120 columns (13 characters)
    tile("C").show(f"{c.count:,}", "all owners" if owner else "customers")
    tile("V").show_money(c.value_cents, "all owners" if owner else "won deals + fulfilled orders")
    tile("S").show(percent(d.win_rate), "won ÷ (won + lost)")
    tile("R").show_money(d.won_cents, "won in the period")
    tile("O").show(f"{o.count:,}", "orders not cancelled")
    tile("W").show_money(o.value_cents, "their value")


def chart_bars(revenue: Sequence[MonthFigures], forecast: list[tuple[str, int]]) -> list[tuple[str, str, Bars]]:
    """Each chart's id, title and bars: won revenue by month and the weighted forecast by close
    month, a year of each."""
    # bar heights are floats by nature (plotext draws and labels the axis from them)
    return [
        ("#revenue-chart", "Won revenue by month", [(r.month, r.won_cents / 100) for r in revenue[-12:]]),
        ("#forecast-chart", "Weighted forecast by close month", [(m, c / 100) for m, c in forecast[:12]]),
    ]


def draw_bars(plot: PlotextPlot, title: str, rows: Bars) -> None:
    """Draw ``plot`` again: ``title`` and the ``rows`` as bars labelled YY-MM."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title(title)
    if rows:
        plt.bar([m[2:] for m, _v in rows], [v for _m, v in rows], marker="hd")
    plot.refresh()


def fill_owners(owners: DataTable[Any], rows: Sequence[OwnerFigures]) -> None:
    """The owners table: each owner's open, won and lost deals, won value and win rate."""
    owners.clear()
    for row in rows:
        owners.add_row(
            Text(safe(row.owner) or "—"),
            f"{row.open_count:,}",
            f"{row.won_count:,}",
            Text(money_text(row.won_cents), justify="right"),
            f"{row.lost_count:,}",
            percent(row.win_rate),
        )
    fit_height(owners, TABLE_ROWS)


def fill_segments(segments: DataTable[Any], rows: Sequence[SegmentFigures]) -> None:
    """The segments table: the customers and their value in each RFM segment."""
    segments.clear()
    for row in rows:
        segments.add_row(Text(safe(row.segment)), f"{row.count:,}", Text(money_text(row.value_cents), justify="right"))
    fit_height(segments, TABLE_ROWS)


def fill_activities(table: DataTable[Any], outcomes: DataTable[Any], figures: ActivityFigures) -> None:
    """Activities done per owner × kind with a total row, and the outcomes that occurred."""
    table.clear()

    def cells(counts: Sequence[int], total: int) -> list[Text]:
        return [Text(f"{n:,}", justify="right") for n in (*counts, total)]

    for row in figures.by_owner:
        table.add_row(Text(safe(row.owner) or "—"), *cells(row.counts, row.total))
    if len(figures.by_owner) != 1:  # one owner's row is the total already
        table.add_row(Text("All owners", style="bold"), *cells(figures.by_kind, figures.total))
    outcomes.clear()
    for outcome, count in figures.outcomes:
        if count:
            outcomes.add_row(Text(safe(outcome)), Text(f"{count:,}", justify="right"), percent(figures.share(count)))
    fit_height(table, TABLE_ROWS)
    fit_height(outcomes, TABLE_ROWS)


def report_csv(data: Report) -> str:
    """The report as CSV, exactly as ``crm-tui report --format csv`` writes it."""
    from crm_tui.report import render

    return render(data, "csv")
