"""The Reports screen: KPI tiles, funnel, revenue and forecast charts, owners, segments, and the
activities done in the period (per owner and kind, and how they went).

Figures come from crm_tui.metrics (the same numbers as ``crm-tui report``),
computed in a thread worker on every change to the tables they read; the message handlers here
show them with crm_tui.tui.screens.reports_render (tiles, charts, tables, the CSV export).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from crm_tui.ahead import read_ahead
from crm_tui.metrics import Filters, ReportFigures, SectionKey, forecast_by_month, report_sections
from crm_tui.metrics.categories import category_forecast, forecast_stamp
from crm_tui.metrics.forecast import forecast_months
from crm_tui.metrics.goals import bar_text, goal_progress, takes_text
from crm_tui.money import missing_note
from crm_tui.queries.pipeline import list_owners
from crm_tui.tui.modals.goal_form import GoalFormScreen
from crm_tui.tui.modals.pick import PickScreen
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.screens.reports_render import (
    MAIN_TILES,
    SEED_TILES,
    TABLE_COLUMNS,
    TABLE_ROWS,
    chart_bars,
    draw_bars,
    fill_activities,
    fill_owners,
    fill_segments,
    report_bar_text,
    report_csv,
    show_tiles,
)
from crm_tui.tui.widgets.forecast_panel import ForecastPanel, MonthLine
from crm_tui.tui.widgets.goals_panel import GoalLine, GoalsPanel
from crm_tui.tui.widgets.key_bar import KeyBar
from crm_tui.tui.widgets.kpi import Funnel, KpiTile
from crm_tui.tui.widgets.mode_bar import ModeBar
from crm_tui.tui.widgets.table_height import fit_height

if TYPE_CHECKING:
    from collections.abc import Sequence
    from concurrent.futures import Future

    from crm_tui.metrics.figures import MonthFigures
    from crm_tui.metrics.goals import GoalProgress
    from crm_tui.metrics.shapes import GoalRow, Report

PERIODS = ("All time", "This month", "This quarter", "This year", "Last 12 months")


def period_filters(name: str, today: dt.date, owner: str | None) -> Filters:
    """The Filters of a named period ending today (UTC dates, inclusive)."""
    if name == "This month":
        since = today.replace(day=1)
    elif name == "This quarter":
        since = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    elif name == "This year":
        since = dt.date(today.year, 1, 1)
    elif name == "Last 12 months":
        year, month = (today.year, today.month - 11) if today.month == 12 else (today.year - 1, today.month + 1)
        since = dt.date(year, month, 1)
    else:
        return Filters(owner=owner)
    return Filters(since=since, until=today, owner=owner)


class ReportsScreen(CrmScreen):
    CSS_PATH = "reports.tcss"
    WATCHES = frozenset(
        {
            "deal",
            "stage_change",
            "task",
            "customer",
            "sales_order",
            "order_line",
            "deal_product",
            "stage",
            "product",
            "currency_rate",
            "crm_meta",
            "goal",
        }
    )
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding(
            "right_square_bracket",
            "period(1)",
            "Period▶",
            key_display="]",
            id="reports.next_period",
            tooltip="Next period: all time, this month, quarter, year, last 12 months",
        ),
        Binding(
            "left_square_bracket",
            "period(-1)",
            "◀Period",
            key_display="[",
            id="reports.prev_period",
            tooltip="Previous period",
        ),
        Binding("o", "pick_owner", "Owner", id="reports.owner", tooltip="Show one owner's figures"),
        Binding(
            "dollar_sign",
            "currencies",
            "Currencies",
            key_display="$",
            id="reports.currencies",
            tooltip="Currencies: the home currency and the exchange rates every total is converted with",
        ),
        Binding(
            "e", "export", "Export CSV", id="reports.export", tooltip="Write the report to crm-report-YYYYMMDD.csv"
        ),
        Binding(
            "g",
            "set_goal",
            "Set a goal",
            id="reports.set_goal",
            tooltip="Set a goal: won value, deals won, added or advanced, activities; per week, month, quarter, year",
        ),
        Binding(
            "G", "remove_goal", "Remove a goal", show=False, id="reports.remove_goal", tooltip="Stop tracking a goal"
        ),
    ]

    #: the figures' period (one of PERIODS) and owner (None: everyone)
    period: var[str] = var("All time", init=False)
    owner: var[str | None] = var(None, init=False)

    class SectionReady(Message):
        """One section of the report computed: ``key``, and ``figures`` — every section so far
        (``generation``: the computation they belong to)."""

        def __init__(self, generation: int, key: SectionKey, figures: ReportFigures) -> None:
            super().__init__()
            self.generation = generation
            self.key = key
            self.figures = figures

    class ForecastReady(Message):
        """The weighted forecast by close month, whole cents (``generation`` as above)."""

        def __init__(self, generation: int, forecast: list[tuple[str, int]]) -> None:
            super().__init__()
            self.generation = generation
            self.forecast = forecast

    class GoalsLoaded(Message):
        def __init__(self, rows: list[GoalLine], report_rows: list[GoalRow], owner: str | None) -> None:
            super().__init__()
            self.rows = rows
            self.report_rows = report_rows  # the report's ``goals`` key, for the CSV export
            self.owner = owner  # whose goals were read (None: everyone's)

    class CategoriesLoaded(Message):
        """This month's forecast by category, then (``months``) the months ahead when learned."""

        def __init__(self, title: str, cents: dict[str, int], counts: dict[str, int], undated: int, note: str) -> None:
            super().__init__()
            self.title, self.cents, self.counts, self.undated, self.note = title, cents, counts, undated, note

    class MonthsLoaded(Message):
        def __init__(self, months: list[MonthLine]) -> None:
            super().__init__()
            self.months = months

    class GoalsToRemove(Message):
        def __init__(self, choices: list[tuple[str, int]]) -> None:
            super().__init__()
            self.choices = choices

    class OwnersLoaded(Message):
        def __init__(self, choices: list[tuple[str, str]]) -> None:
            super().__init__()
            self.choices = choices

    def __init__(self) -> None:
        super().__init__()
        self.data: Report | None = None  # the whole report (JSON shape), once every section of it is in
        self._generation = 0  # of the figures asked for last (a period, an owner, a change)
        self._figures = ReportFigures()  # the sections of the computation asked for last, so far
        self._forecast: list[tuple[str, int]] | None = None  # and its forecast
        self._computing = self._again = self._failed = False
        self._computing_worker: Worker[None] | None = None
        self._goals_shown = False  # the goals panel has had its rows once (see reload)
        # Built on the key that opens Reports, before its stylesheets and widgets: the goals' read
        # starts now, a tenth of a second before the screen is mounted to ask for it.
        self._goals_ahead: Future[list[GoalProgress]] | None = None
        db, now = self.app.db, self.app.clock()  # read here: the read's own thread cannot reach the app
        if db is not None:
            self._goals_ahead = read_ahead(lambda: goal_progress(db, now=now, owner=None), "crm-tui read ahead")
        self._rest_after_goals = False  # the forecast and the sections wait for the goals
        self._goal_rows: list[GoalRow] = []  # the goals as the report's ``goals`` key has them
        self._plotted: dict[str, list[tuple[str, float]]] = {}  # each chart's bars as last drawn
        # the learned months ahead and what they were learned from (forecast_stamp, day: ages count in days)
        self._learned: tuple[tuple[tuple[object, ...], str], list[MonthLine]] | None = None
        # one learning at a time: a worker cancelled while it waited gives way to the newest, so
        # changes in quick succession never learn side by side (each holds the book's history)
        self._learning = threading.Lock()

    def compose(self) -> ComposeResult:
        yield ModeBar("reports")
        yield Static(id="reports-bar")
        with VerticalScroll(id="reports-body"):
            with Grid(classes="kpi-grid"):
                for key, label in MAIN_TILES:
                    yield KpiTile(label, id=f"kpi-{key}")
            with Grid(classes="kpi-grid"):
                for key, label in SEED_TILES:
                    yield KpiTile(label, id=f"kpi-{key}", classes="-seed")
            yield GoalsPanel(id="goals-panel")
            yield Funnel(id="funnel")
            with Horizontal(id="charts"):
                yield PlotextPlot(id="revenue-chart")
                yield PlotextPlot(id="forecast-chart")
            yield ForecastPanel(id="forecast-panel")
            with Horizontal(id="tables"):
                yield DataTable(id="owners-table", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="segments-table", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="activities"):
                yield DataTable(id="activities-table", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="outcomes-table", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        for wid, headings in TABLE_COLUMNS.items():
            self.query_one(wid, DataTable).add_columns(*headings)
        self._refit()
        self._update_bar()

    def on_resize(self) -> None:
        self.call_after_refresh(self._refit)  # once laid out at the new width: a scrollbar more or less

    def _refit(self) -> None:
        for table in self.query(DataTable):
            fit_height(table, TABLE_ROWS)

    def _update_bar(self) -> None:
        figures = self._figures if self._figures.deals is not None else None
        self.query_one("#reports-bar", Static).update(report_bar_text(self.period, self.owner, figures))

    # -- computing ---------------------------------------------------------------------------

    def reload(self) -> None:
        """The data changed (or the database opened): compute the report again — after the
        computation running now, if any, so changes saved every few seconds in another session
        never keep the slowest figures from showing."""
        if self.app.db is not None:
            self._read_goals(self.owner)
            if not self._goals_shown:
                # The first time, the goals alone: a tenth of a second of reading that, side by side
                # with the report's sections and the forecast, waited three or four times as long
                # for its share of the one interpreter. The rest starts once they are in.
                self._rest_after_goals = True
                return
            self._read_forecast(self.owner)
        self._compute_again()

    def _compute_again(self) -> None:
        if self._computing:
            self._again = True
            return
        self._start()

    def _read_rest(self) -> None:
        """The goals are in (or failed): the forecast and the report's sections, if they waited."""
        if self._rest_after_goals:
            self._rest_after_goals = False
            self._read_forecast(self.owner)
            self._compute_again()

    @on(Worker.StateChanged)
    def _goals_failed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "reports-goals" and event.state == WorkerState.ERROR:
            self._read_rest()  # the failure is reported (the app's handler); the rest still comes

    def _start(self) -> None:
        self._generation += 1
        self._computing, self._again = True, False
        self._figures, self._forecast = ReportFigures(), None
        self._computing_worker = self._compute(self._generation, self.period, self.owner)

    def _restart(self) -> None:
        """Another period or owner: what is shown answers another question — blank it, drop
        the computation running now (an exclusive worker) and start over."""
        self.data = None
        self._blank()
        self._rest_after_goals = False  # all of it now
        self._read_goals(self.owner)
        self._read_forecast(self.owner)
        self._start()

    @work(thread=True, exclusive=True, group="reports-compute", exit_on_error=False)
    def _compute(self, generation: int, period: str, owner: str | None) -> None:
        """The report a section at a time (one read transaction): each is shown as it comes,
        so the tiles appear before the slower sections on a big database."""
        from textual.worker import get_current_worker

        worker = get_current_worker()
        db = self.app.db
        assert db is not None  # reload() and the selectors start this only once the database is open
        now = self.app.clock()
        filters = period_filters(period, now.astimezone(dt.UTC).date(), owner)
        with closing(report_sections(db, filters, now=now)) as sections:
            for key, figures in sections:
                if worker.is_cancelled:
                    return  # another period or owner is being computed
                self.post_message(self.SectionReady(generation, key, figures))
                if key == "revenue_by_month":
                    forecast = forecast_by_month(db, filters, now=now)
                    self.post_message(self.ForecastReady(generation, forecast))

    @on(Worker.StateChanged)
    def _compute_ended(self, event: Worker.StateChanged) -> None:
        """The computation asked for last has ended (run to the end or failed — one that was
        cancelled gave way to a newer one): start the one changes asked for meanwhile."""
        if event.worker is not self._computing_worker or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self._computing, self._failed = False, event.state == WorkerState.ERROR
        if self._again:
            self._start()

    @on(SectionReady)
    def _part(self, event: SectionReady) -> None:
        """One section arrived: show what it completes. Sections of an older computation are
        dropped; a computation after a change replaces the figures one by one."""
        if event.generation != self._generation:
            return
        key, f = event.key, event.figures
        self._figures = f
        self._update_bar()
        if key in ("deals", "customers", "orders", "market_demand"):
            if f.deals is not None and f.customers is not None and f.orders is not None and f.market_demand is not None:
                show_tiles(self, f.deals, f.customers, f.orders, f.market_demand, self.owner)
        if key == "owners" and f.owners is not None:
            fill_owners(self.query_one("#owners-table", DataTable), f.owners)
        if key == "revenue_by_month" and f.revenue_by_month is not None and self._forecast is not None:
            self._charts(f.revenue_by_month, self._forecast)
        if key == "stages" and f.stages is not None:
            self.query_one(Funnel).show(f.stages)
        if key == "segments" and f.segments is not None:
            fill_segments(self.query_one("#segments-table", DataTable), f.segments)
        if key == "activities" and f.activities is not None:
            activities = self.query_one("#activities-table", DataTable)
            fill_activities(activities, self.query_one("#outcomes-table", DataTable), f.activities)
        if f.complete:
            self.data = f.json()

    @on(ForecastReady)
    def _forecast_ready(self, event: ForecastReady) -> None:
        if event.generation != self._generation:
            return
        self._forecast = event.forecast
        if self._figures.revenue_by_month is not None:
            self._charts(self._figures.revenue_by_month, event.forecast)

    def _blank(self) -> None:
        for tile in self.query(KpiTile):
            tile.show("…")
        funnel = self.query_one(Funnel)
        funnel.stages = None
        funnel.update("")
        self._plotted.clear()
        for plot in self.query(PlotextPlot):
            plot.plt.clear_data()
            plot.refresh()
        for table in self.query(DataTable):
            table.clear()
        self._refit()

    def _charts(self, revenue: Sequence[MonthFigures], forecast: list[tuple[str, int]]) -> None:
        for wid, title, rows in chart_bars(revenue, forecast):
            if self._plotted.get(wid) == rows:
                continue  # drawing a chart is most of what the screen does after a change: not again
            self._plotted[wid] = rows
            draw_bars(self.query_one(wid, PlotextPlot), title, rows)

    # -- forecast by category and the months ahead ----------------------------------------------

    def _read_forecast(self, owner: str | None) -> None:
        """This month by category (the owner's deals when one is picked) and the learned forecast
        of the months ahead, side by side: the months are the slowest figure on the screen, so
        they do not wait for the categories."""
        self._read_categories(owner)
        self._read_months()

    @work(thread=True, exclusive=True, group="reports-categories", exit_on_error=False)
    def _read_categories(self, owner: str | None) -> None:
        db = self.app.db
        assert db is not None  # reload() starts this only once the database is open
        with db.read() as session:
            f = category_forecast(session, now=self.app.clock(), owner=owner)
        title = f"Forecast · {f.start:%b %Y} by category · {f.currency}"
        note = missing_note(f.missing, cli=False) if f.missing else ""
        self.post_message(self.CategoriesLoaded(title, f.cents, f.counts, f.undated, note))

    @work(thread=True, exclusive=True, group="reports-forecast", exit_on_error=False)
    def _read_months(self) -> None:
        """The learned forecast of the months ahead: the whole book's history, so it is learned again
        only when what it learns from changed since the last time (``metrics.forecast``)."""
        from textual.worker import get_current_worker

        db = self.app.db
        assert db is not None  # reload() starts this only once the database is open
        now = self.app.clock()
        with db.read() as session:
            stamp = forecast_stamp(session)
        with self._learning:
            if get_current_worker().is_cancelled:
                return
            cached = self._learned
            if cached is not None and cached[0] == (stamp, now.astimezone(dt.UTC).date().isoformat()):
                self.post_message(self.MonthsLoaded(cached[1]))
                return
            months = [
                MonthLine(m.month, m.weighted_cents, m.learned_cents, m.low_cents, m.high_cents)
                for m in forecast_months(db, months=6, now=now)
            ]
            self._learned = ((stamp, now.astimezone(dt.UTC).date().isoformat()), months)
        if get_current_worker().is_cancelled:
            return
        self.post_message(self.MonthsLoaded(months))

    @on(CategoriesLoaded)
    def _categories_loaded(self, event: CategoriesLoaded) -> None:
        self.query_one(ForecastPanel).show_categories(event.title, event.cents, event.counts, event.undated, event.note)

    @on(MonthsLoaded)
    def _months_loaded(self, event: MonthsLoaded) -> None:
        self.query_one(ForecastPanel).show_months(event.months)

    # -- goals ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="reports-goals", exit_on_error=False)
    def _read_goals(self, owner: str | None) -> None:
        """Every goal's progress in its period (the owner's when one is picked), and what it takes."""
        db = self.app.db
        assert db is not None  # reload() starts this only once the database is open
        ahead, self._goals_ahead = self._goals_ahead, None
        if ahead is not None and owner is None:
            rows = ahead.result()
        else:
            rows = goal_progress(db, now=self.app.clock(), owner=owner)
        lines = [
            GoalLine(
                g.id,
                g.owner,
                g.attainment,
                "met" if g.met else "ahead" if g.on_pace else "behind",
                bar_text(g),
                takes_text(g),
            )
            for g in rows
        ]
        self.post_message(self.GoalsLoaded(lines, [g.json() for g in rows], owner))

    @on(GoalsLoaded)
    def _goals_loaded(self, event: GoalsLoaded) -> None:
        self.query_one(GoalsPanel).show(event.rows, event.owner)
        self._goal_rows = event.report_rows
        self._goals_shown = True
        self._read_rest()

    def action_set_goal(self) -> None:
        services = self.app.services
        if services is None:
            return

        def save(values: dict[str, Any]) -> Any:
            return services.set_goal(
                values.get("metric") or "",
                values.get("period") or "",
                values.get("target"),
                owner=values.get("owner") or "",
                stage=values.get("stage") or None,
            )

        self.app.push_screen(GoalFormScreen(save, values={"owner": self.owner or ""}), self.said_when_saved("Goal set"))

    def action_remove_goal(self) -> None:
        if self.app.db is not None:
            self._goals_to_remove()

    @work(thread=True, group="reports-pick", exit_on_error=False)
    def _goals_to_remove(self) -> None:
        db = self.app.db
        assert db is not None  # action_remove_goal starts this only once the database is open
        rows = goal_progress(db, now=self.app.clock(), takes=False)
        self.post_message(self.GoalsToRemove([(f"{g.owner or 'everyone'} · {bar_text(g)}", g.id) for g in rows]))

    @on(GoalsToRemove)
    def _pick_goal(self, event: GoalsToRemove) -> None:
        if not event.choices:
            self.notify("No goals to remove; press g to set one", timeout=3)
            return
        self.app.push_screen(PickScreen("Remove which goal?", event.choices), self._goal_picked)

    def _goal_picked(self, goal_id: int | None) -> None:
        services = self.app.services
        if goal_id is not None and services is not None:
            self.run_service(lambda: services.remove_goal(goal_id), success="Goal removed (ctrl+z brings it back)")

    # -- selectors and export ---------------------------------------------------------------

    def action_period(self, step: int) -> None:
        self.period = PERIODS[(PERIODS.index(self.period) + step) % len(PERIODS)]

    def watch_period(self) -> None:
        self._update_bar()
        if self.app.db is not None:
            self._restart()

    def watch_owner(self) -> None:
        self._update_bar()
        if self.app.db is not None:
            self._restart()

    def action_pick_owner(self) -> None:
        if self.app.db is not None:
            self._owners()

    @work(thread=True, group="reports-pick", exit_on_error=False)
    def _owners(self) -> None:
        db = self.app.db
        assert db is not None  # action_pick_owner starts this only once the database is open
        self.post_message(self.OwnersLoaded([("Everyone", "")] + [(o, o) for o in list_owners(db)]))

    @on(OwnersLoaded)
    def _pick_owner(self, event: OwnersLoaded) -> None:
        self.app.push_screen(PickScreen("Figures of", event.choices, current=self.owner or ""), self._owner_picked)

    def _owner_picked(self, owner: str | None) -> None:
        if owner is not None:  # None: closed without a choice
            self.owner = owner or None

    def action_currencies(self) -> None:
        """The home currency and the exchange rates: add, edit, remove."""
        self.app.open_currencies()

    def action_export(self) -> None:
        if self.data is None:
            if self._failed and not self._computing:
                self.notify(
                    "No report to export: computing it failed (see the message before); "
                    "choose the period again to retry",
                    severity="error",
                    timeout=6,
                )
            else:
                self.notify("The report is still being computed", severity="warning", timeout=3)
            return
        self._export({**self.data, "goals": self._goal_rows}, self.app.clock())

    @work(thread=True, group="reports-export", exit_on_error=False)
    def _export(self, data: Report, now: dt.datetime) -> None:
        path = Path.cwd() / f"crm-report-{now.astimezone():%Y%m%d}.csv"
        try:
            body = report_csv(data)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(body)
            os.chmod(path, 0o600)
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"Cannot write {path}: {exc.strerror or exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"Report written to {path}", timeout=6)
