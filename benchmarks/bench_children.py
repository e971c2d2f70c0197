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
    out: dict = {"down": [], "pagedown": [], "search": [], "search_text": [], "move": []}

    class Session(CrmApp):
        CSS_PATH = _app_css()

    app = Session(db_path, clock=lambda: NOW, poll=False, memory=memory)

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
        await _until(lambda: getattr(app.screen, "data", None) is not None, timeout=120)
        out["reports"] = (await _painted(app) - t) * 1000
        _emit(**out)

    asyncio.run(_run(app, body, timeout=600))
