"""What each benchmark child process runs (``python -c "...; bench_children.<kind>(...)"``).

Every child prints ONE JSON line and exits at once. Times that start at process
start are reported as ``time.monotonic()`` readings (one clock for every process
on the machine), which the parent subtracts from the reading it took just before
spawning the child. Only the standard library is imported at module level, so the
child's own imports count in what is measured.

"Painted" means: the state is in the widgets AND the screen has rendered a frame
after it (``call_after_refresh`` runs after the compositor's next refresh).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import time

SIZE = (120, 40)


def peak_rss_mib() -> float:
    """This program's peak resident memory. Linux's VmHWM belongs to the program since
    exec; ``ru_maxrss`` would still count the parent's memory from before the exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _emit(**values) -> None:
    values["rss_mib"] = peak_rss_mib()
    sys.stdout.write(json.dumps(values) + "\n")
    sys.stdout.flush()
    os._exit(0)  # no teardown: the next run starts sooner, nothing left to measure


async def _until(cond, timeout: float = 60.0, step: float = 0.001) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(step)


async def _painted(app) -> float:
    """Wait for the next frame; return its ``time.monotonic()``."""
    fut = asyncio.get_running_loop().create_future()
    app.call_after_refresh(lambda: fut.done() or fut.set_result(time.monotonic()))
    return await fut


# --- process start → first paint ------------------------------------------------------


def bare() -> None:
    """The floor: a bare Textual app with one Label, to its first frame."""
    from textual.app import App
    from textual.widgets import Label

    class Bare(App):
        def compose(self):
            yield Label("crm-tui")

        def on_ready(self) -> None:
            self.call_after_refresh(lambda: _emit(paint=time.monotonic()))

    asyncio.run(_run(Bare()))


def _customers_ready(app) -> bool:
    from crm_tui.tui.screens.customers import CustomersScreen

    screen = app.screen
    if not isinstance(screen, CustomersScreen) or not screen.is_mounted:
        return False
    table = screen.table
    return table.row_count > 0 and screen.current_id() is not None


def _app_css() -> list[str]:
    """The app's stylesheets by absolute path (a subclass here would look beside this file)."""
    from pathlib import Path

    import crm_tui.tui.app as app_module

    folder = Path(app_module.__file__).parent
    return [str(folder / path) for path in app_module.CrmApp.CSS_PATH]


async def _run(app, body=None, timeout: float = 240.0) -> None:
    """Run ``app`` headless; ``body(pilot)`` drives it. An app that exits or hangs fails loudly."""

    async def drive():
        async with app.run_test(size=SIZE) as pilot:
            if body is not None:
                await body(pilot)
            while app.is_running:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"the app exited before the measurement: {getattr(app, 'startup_error', None)}")

    await asyncio.wait_for(drive(), timeout)


def app_start(db_path: str, until: str) -> None:
    """crm-tui on the benchmark database: to its first frame (``paint``) or to the first
    customer rows on screen (``rows``)."""
    from bench_data import NOW

    from crm_tui.cli import interactive_settings

    memory = interactive_settings()  # as `crm-tui` sets them
    from crm_tui.tui.app import CrmApp

    class Timed(CrmApp):
        CSS_PATH = _app_css()

        def on_ready(self) -> None:
            if until == "paint":
                self.call_after_refresh(lambda: _emit(paint=time.monotonic()))
            else:
                self.set_interval(0.002, self._check)

        def _check(self) -> None:
            if _customers_ready(self):
                self.call_after_refresh(lambda: _emit(paint=time.monotonic()))

    asyncio.run(_run(Timed(db_path, clock=lambda: NOW, poll=False, memory=memory)))


# --- one interactive session: keys, search, pipeline, stage moves ---------------------------


def _visible_loaded(screen) -> bool:
    table = screen.table
    top = int(table.scroll_offset.y)
    last = min(table.row_count, top + table.data_height)
    return all(screen._row_at(i) is not None for i in range(top, last))


class _Shown:
    """When Reports' learned-forecast months and goals panel were last filled (``time.monotonic()``)."""

    def __init__(self) -> None:
        self.months = self.goals = 0.0

    def since(self, t: float) -> bool:
        """Both panels filled after ``t``: with the report's ``data``, every figure on Reports."""
        return self.months > t and self.goals > t


def _panels_shown() -> _Shown:
    """Record when the forecast panel gets its learned months and the goals panel its rows: the
    figures Reports computes beside its ``data`` (wrapping the two widgets' public ``show*``)."""
    from crm_tui.tui.widgets.forecast_panel import ForecastPanel
    from crm_tui.tui.widgets.goals_panel import GoalsPanel

    shown = _Shown()
    months, goals = ForecastPanel.show_months, GoalsPanel.show

    def show_months(panel, rows, failed: str = "") -> None:
        months(panel, rows, failed)
        if rows is not None:
            shown.months = time.monotonic()

    def show(panel, rows, owner=None) -> None:
        goals(panel, rows, owner)
        shown.goals = time.monotonic()

    ForecastPanel.show_months = show_months  # type: ignore[method-assign]
    GoalsPanel.show = show  # type: ignore[method-assign]
    return shown


async def _key(app, key: str, char: str | None = None) -> None:
    from textual import events

    app.post_message(events.Key(key, char))
    await asyncio.sleep(0)


def session(db_path: str, words_json: str, downs: int, pages: int, moves: int) -> None:
    """Customers keys, `/` search, switch to Pipeline, stage moves, switch to Reports;
    latencies in ms."""
    from bench_data import NOW

    from crm_tui.cli import interactive_settings

    memory = interactive_settings()  # as `crm-tui` sets them
    from crm_tui.tui.app import CrmApp

    words = json.loads(words_json)
    out: dict = {
        "down": [],
        "pagedown": [],
        "search": [],
        "search_text": [],
        "move": [],
        "reports_changed": [],
        "reports_again": [],
    }

    class Session(CrmApp):
        CSS_PATH = _app_css()

    app = Session(db_path, clock=lambda: NOW, poll=False, memory=memory)
    panels = _panels_shown()

    async def body(pilot):
        # steady state: the database layer is open and the list reloaded through it
        await _until(lambda: _customers_ready(app) and app.db is not None)
        await pilot.pause()
        await _until(lambda: _customers_ready(app) and not any(w.is_running for w in app.workers))
        await _painted(app)
        screen = app.screen
        table = screen.table
        for key, n in (("down", downs), ("pagedown", pages)):
            for _ in range(n):
                before = table.cursor_row
                t = time.monotonic()
                await _key(app, key)
                await _until(lambda: table.cursor_row != before and _visible_loaded(screen))
                out[key].append((await _painted(app) - t) * 1000)
                await asyncio.sleep(0.01)  # a rep's key repeat is slower than the loop
        # incremental search: `/`, then one character at a time
        for word in words:
            await _key(app, "slash", "/")
            await pilot.pause()
            for i in range(1, len(word) + 1):
                text = word[:i]
                t = time.monotonic()
                await _key(app, word[i - 1], word[i - 1])

                def shown(text=text):
                    active = getattr(screen, "_active_filter", None)
                    return (
                        active is not None and active.text == text and (screen._total == 0 or _visible_loaded(screen))
                    )

                await _until(shown)
                out["search"].append((await _painted(app) - t) * 1000)
                out["search_text"].append(text)
                await asyncio.sleep(0.08)  # typing speed: ~12 keys/s
            await _key(app, "escape")
            await _until(
                lambda: (
                    getattr(screen, "_active_filter", None) is not None
                    and screen._active_filter.text == ""
                    and _visible_loaded(screen)
                )
            )
            await pilot.pause()
        out["rss_customers_mib"] = peak_rss_mib()
        # switch to the Pipeline screen, all open deals
        from crm_tui.tui.widgets.kanban import KanbanBoard

        t = time.monotonic()
        await _key(app, "2", "2")
        await _until(lambda: getattr(app.screen, "board", None) is not None)
        out["pipeline"] = (await _painted(app) - t) * 1000
        board_screen = app.screen
        kanban = board_screen.query_one(KanbanBoard)
        out["open_cards"] = sum(
            board_screen.board.headers[s.id].count for s in board_screen.board.stages if s.outcome == "open"
        )  # open deals in the pipeline (headers count them all)
        await pilot.pause()
        # stage moves: L then H on the card under the cursor, until both headers show it
        for i in range(moves):
            board = board_screen.board
            card = kanban.cursor_card
            step = 1 if i % 2 == 0 else -1
            opens = [s.id for s in board.stages if s.outcome == "open"]
            src = card.stage_id
            dst = opens[opens.index(src) + step]
            before_src, before_dst = board.headers[src].count, board.headers[dst].count
            t = time.monotonic()
            await _key(app, "shift+right" if step > 0 else "shift+left")

            def moved():
                b = board_screen.board
                return (
                    b.headers[dst].count == before_dst + 1
                    and b.headers[src].count == before_src - 1
                    and kanban.cursor_card is not None
                    and kanban.cursor_card.id == card.id
                )

            await _until(moved)
            out["move"].append((await _painted(app) - t) * 1000)
            await asyncio.sleep(0.05)
        out["rss_pipeline_mib"] = peak_rss_mib()
        # switch to Reports: every figure of the whole book computed and shown
        await pilot.pause()
        t = time.monotonic()
        await _key(app, "4", "4")

        def tiles_shown():
            tiles = list(app.screen.query("KpiTile")) if type(app.screen).__name__ == "ReportsScreen" else []
            return bool(tiles) and all(tile.value != "…" for tile in tiles)

        await _until(tiles_shown, timeout=120)
        out["reports_tiles"] = (await _painted(app) - t) * 1000
        await _until(lambda: getattr(app.screen, "data", None) is not None and panels.since(t), timeout=300)
        out["reports"] = (await _painted(app) - t) * 1000
        reports = app.screen
        # back on the board, one stage move, then Reports again: until every figure is the new one
        for _ in range(3):
            before_data = reports.data
            await _key(app, "2", "2")
            await _until(lambda: app.screen is board_screen)
            await _painted(app)
            card = kanban.cursor_card
            before = board_screen.board.headers[card.stage_id].count
            await _key(app, "shift+right")
            await _until(lambda: board_screen.board.headers[card.stage_id].count == before - 1)
            await _painted(app)
            moved_at = time.monotonic()
            await _key(app, "shift+left")  # and back, so the next round moves the same card
            await _until(lambda: board_screen.board.headers[card.stage_id].count == before)
            await _painted(app)
            t = time.monotonic()
            await _key(app, "4", "4")
            await _until(
                lambda: (
                    app.screen is reports
                    and reports.data is not None
                    and reports.data is not before_data
                    and panels.since(moved_at)
                ),
                timeout=300,
            )
            out["reports_changed"].append((await _painted(app) - t) * 1000)
        # and with no change since the last visit: until Reports is painted again
        for _ in range(3):
            await _key(app, "2", "2")
            await _until(lambda: app.screen is board_screen)
            await _painted(app)
            t = time.monotonic()
            await _key(app, "4", "4")
            await _until(lambda: app.screen is reports and reports.data is not None)
            out["reports_again"].append((await _painted(app) - t) * 1000)
        _emit(**out)

    asyncio.run(_run(app, body, timeout=600))


# --- the newer screens: Orders, Products, the agenda (Tasks), Goals on Reports, History ---------


async def _keys_timed(app, key: str, count: int, state, ready, reset=None, still=None) -> list[float]:
    """``count`` presses of ``key``, each timed until ``state()`` changed, ``ready()`` holds and the
    next frame is painted (ms): the first frame that answers the key. At the end of a list
    (``reset()`` returns a key to press first, untimed, e.g. ``home``) it goes back to the top, so
    every timed press moves; ``still()`` (a scroll's animation over) is waited for, untimed,
    before each press."""
    times = []
    for _ in range(count):
        if still is not None:
            await _until(still, timeout=30)
        if reset is not None:
            again = reset()
            if again:
                before = state()
                await _key(app, again)
                await _until(lambda before=before: state() != before and ready(), timeout=30)
                if still is not None:
                    await _until(still, timeout=30)
                await _painted(app)
        before = state()
        t = time.monotonic()
        await _key(app, key)
        await _until(lambda before=before: state() != before and ready(), timeout=30)
        times.append((await _painted(app) - t) * 1000)
        await asyncio.sleep(0.01)  # a rep's key repeat is slower than the loop
    return times


async def _settled(app) -> None:
    """No worker running and a frame painted since: what the next figure starts from."""
    await _until(lambda: not any(w.is_running for w in app.workers), timeout=300)
    await _painted(app)
    await asyncio.sleep(0.05)


def screens(db_path: str, user: str, deal_id: int, downs: int, pages: int) -> None:
    """Open each newer screen until its rows are painted, then time ``down`` / ``pagedown`` in it:
    Orders (``5``), Products (``P`` on Orders), the rep's day on Tasks (``3``, as ``user``), the
    goals panel on Reports (``4``), and the History of deal ``deal_id`` on its page (what
    ``enter`` on its card opens). Latencies in ms."""
    from bench_data import NOW

    from crm_tui.cli import interactive_settings

    memory = interactive_settings()  # as `crm-tui` sets them
    from crm_tui.tui.app import CrmApp

    out: dict = {}

    class Screens(CrmApp):
        CSS_PATH = _app_css()

    app = Screens(db_path, user=user, clock=lambda: NOW, poll=False, memory=memory)

    def named(name: str) -> bool:
        return type(app.screen).__name__ == name and app.screen.is_mounted

    async def body(pilot):
        await _until(lambda: _customers_ready(app) and app.db is not None)
        await pilot.pause()
        await _until(lambda: _customers_ready(app) and not any(w.is_running for w in app.workers))
        await _settled(app)
        # the floors, in this session: the same keys in Customers (the app's own key cost), and a
        # switch to a section that has its rows already (the cost of a switch with nothing to read)
        customers = app.screen
        row = lambda: customers.table.cursor_row  # noqa: E731
        out["customers_down"] = await _keys_timed(app, "down", downs, row, lambda: _visible_loaded(customers))
        out["customers_pagedown"] = await _keys_timed(app, "pagedown", pages, row, lambda: _visible_loaded(customers))
        await _settled(app)

        # Orders: newest first, a virtual list read a page at a time
        t = time.monotonic()
        await _key(app, "5", "5")
        await _until(lambda: named("OrdersScreen") and app.screen.current() is not None and _visible_loaded(app.screen))
        out["orders_open"] = (await _painted(app) - t) * 1000
        orders = app.screen
        await _until(lambda: orders.summary is not None, timeout=120)
        out["orders_summary"] = (await _painted(app) - t) * 1000
        await _settled(app)
        row = lambda: orders.table.cursor_row  # noqa: E731
        out["orders_down"] = await _keys_timed(app, "down", downs, row, lambda: _visible_loaded(orders))
        out["orders_pagedown"] = await _keys_timed(app, "pagedown", pages, row, lambda: _visible_loaded(orders))
        out["orders_count"] = orders._total
        switches = []
        for _ in range(5):  # to Customers and back: both mounted, their rows read already
            await _settled(app)
            for key, name in (("1", "CustomersScreen"), ("5", "OrdersScreen")):
                t = time.monotonic()
                await _key(app, key, key)
                await _until(lambda name=name: named(name))
                switches.append((await _painted(app) - t) * 1000)
        out["switch_floor"] = statistics.median(switches)
        await _settled(app)

        # Products: the catalogue on top of Orders
        from textual.widgets import DataTable

        t = time.monotonic()
        await _key(app, "P", "P")
        await _until(lambda: named("ProductsScreen") and app.screen.query_one(DataTable).row_count > 0)
        out["products_open"] = (await _painted(app) - t) * 1000
        products = app.screen
        await _until(lambda: products.counted, timeout=120)
        out["products_counted"] = (await _painted(app) - t) * 1000
        await _settled(app)
        table = products.query_one(DataTable)
        last = lambda: "ctrl+home" if table.cursor_row >= table.row_count - 1 else None  # noqa: E731
        out["products_down"] = await _keys_timed(app, "down", downs, lambda: table.cursor_row, lambda: True, reset=last)
        out["products_pagedown"] = await _keys_timed(
            app, "pagedown", pages, lambda: table.cursor_row, lambda: True, reset=last
        )
        out["products_count"] = table.row_count
        await _key(app, "escape")
        await _until(lambda: named("OrdersScreen"))
        await _settled(app)

        # the agenda: the rep's day on Tasks (overdue, today, deals without a next step, rotting, upcoming)
        from crm_tui.tui.screens.tasks import TaskList

        t = time.monotonic()
        await _key(app, "3", "3")
        await _until(lambda: named("TasksScreen") and bool(app.screen.query_one(TaskList).lines), timeout=120)
        out["agenda_open"] = (await _painted(app) - t) * 1000
        tasks = app.screen.query_one(TaskList)
        await _settled(app)
        end = lambda: "home" if tasks.cursor >= len(tasks.lines) - 1 else None  # noqa: E731
        out["agenda_down"] = await _keys_timed(app, "down", downs, lambda: tasks.cursor, lambda: True, reset=end)
        out["agenda_pagedown"] = await _keys_timed(
            app, "pagedown", pages, lambda: tasks.cursor, lambda: True, reset=end
        )
        out["agenda_lines"] = len(tasks.lines)

        # the goals panel on Reports (the rest of the report is timed by session())
        from crm_tui.tui.widgets.goals_panel import GoalsPanel

        t = time.monotonic()
        await _key(app, "4", "4")
        await _until(lambda: named("ReportsScreen") and app.screen.query_one(GoalsPanel).rows, timeout=120)
        out["goals_open"] = (await _painted(app) - t) * 1000
        reports = app.screen
        out["goals_count"] = len(reports.query_one(GoalsPanel).rows)
        await _until(lambda: reports.data is not None, timeout=300)
        await _settled(app)
        scroller = reports.query_one("#reports-body")
        scroller.focus()
        await _painted(app)
        bottom = lambda: "home" if scroller.scroll_y >= scroller.max_scroll_y else None  # noqa: E731
        y = lambda: scroller.scroll_y  # noqa: E731
        rest = lambda: scroller.scroll_y == scroller.scroll_target_y  # noqa: E731
        out["goals_down"] = await _keys_timed(app, "down", downs, y, lambda: True, reset=bottom, still=rest)
        out["goals_pagedown"] = await _keys_timed(app, "pagedown", pages, y, lambda: True, reset=bottom, still=rest)

        # History: the deal's page, on top of Reports (the board's enter opens the same page)
        t = time.monotonic()
        app.open_deal(deal_id)
        await _until(lambda: named("DealDetailScreen") and app.screen.detail is not None, timeout=120)
        out["history_open"] = (await _painted(app) - t) * 1000
        deal = app.screen
        await _settled(app)
        scroller = deal.query_one("#deal-body")
        bottom = lambda: "home" if scroller.scroll_y >= scroller.max_scroll_y else None  # noqa: E731
        y = lambda: scroller.scroll_y  # noqa: E731
        rest = lambda: scroller.scroll_y == scroller.scroll_target_y  # noqa: E731
        out["history_down"] = await _keys_timed(app, "down", downs, y, lambda: True, reset=bottom, still=rest)
        out["history_pagedown"] = await _keys_timed(app, "pagedown", pages, y, lambda: True, reset=bottom, still=rest)
        out["history_lines"] = scroller.max_scroll_y + scroller.size.height
        _emit(**out)

    asyncio.run(_run(app, body, timeout=900))
