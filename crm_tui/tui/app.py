"""The application shell: four modes, live updates, undo, palette, themes.

``create_app()`` is the one factory the CLI and the tests share. The database
is opened in a thread worker after the first paint; when it is ready every
screen is told "everything changed" and loads its rows.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from crm_tui.tui.collector import COLLECTOR
from crm_tui.tui.commands import JumpProvider
from crm_tui.tui.undo import UndoEntry, UndoStack

POLL_SECONDS = 0.5
WARM_UP_AFTER = 0.05  # s after the database opens: done before a person reacts to the first rows

#: every screen's and form's stylesheet (each beside its module), relative to this folder
STYLESHEETS = sorted(p.relative_to(Path(__file__).parent).as_posix() for p in Path(__file__).parent.glob("*/*.tcss"))


def _lazy(module: str, name: str) -> Callable[[], Screen]:
    def make() -> Screen:
        import importlib

        return getattr(importlib.import_module(module), name)()

    make.module = module  # what the warm-up imports ahead of the first switch
    return make


class CrmApp(App[int]):
    TITLE = "crm-tui"
    #: Every screen's and form's stylesheet, read once at start-up: a screen whose
    #: stylesheet is new makes Textual re-parse and re-apply all CSS to every widget
    #: (~0.15 s), which would otherwise land on the first switch to each screen.
    #: Each screen keeps its own CSS_PATH; the paths resolve to the same files.
    CSS_PATH = ["app.tcss", *STYLESHEETS]
    COMMANDS = App.COMMANDS | {JumpProvider}
    MODES = {
        "customers": _lazy("crm_tui.tui.screens.customers", "CustomersScreen"),
        "pipeline": _lazy("crm_tui.tui.screens.pipeline", "PipelineScreen"),
        "tasks": _lazy("crm_tui.tui.screens.tasks", "TasksScreen"),
        "reports": _lazy("crm_tui.tui.screens.reports", "ReportsScreen"),
    }
    MODE_TITLES = {"customers": "Customers", "pipeline": "Pipeline", "tasks": "Tasks", "reports": "Reports"}
    BINDINGS = [
        Binding(
            "1,f1",
            "switch_mode('customers')",
            "Customers",
            id="screen.customers",
            show=False,
            tooltip="Show the customer list",
        ),
        Binding(
            "2,f2",
            "switch_mode('pipeline')",
            "Pipeline",
            id="screen.pipeline",
            show=False,
            tooltip="Show the deal funnel",
        ),
        Binding("3,f3", "switch_mode('tasks')", "Tasks", id="screen.tasks", show=False, tooltip="Show the task queue"),
        Binding(
            "4,f4", "switch_mode('reports')", "Reports", id="screen.reports", show=False, tooltip="Show the reports"
        ),
        Binding("ctrl+z", "undo", "Undo", id="app.undo", tooltip="Undo the last delete, move, win/lose or completion"),
        Binding("question_mark", "toggle_help", "Keys", id="app.help", tooltip="Show the keys of this screen"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit crm-tui", priority=True, show=False),
    ]

    def __init__(
        self,
        db=None,
        *,
        user: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        poll: bool = True,
        initial_mode: str = "customers",
    ) -> None:
        super().__init__()
        self._db_spec = db
        self.db = None
        self.services = None
        self.user = user
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.undo_stack = UndoStack()
        self.data_changed: Signal[frozenset[str]] = Signal(self, "data-changed")
        self._poll = poll
        self._initial_mode = initial_mode
        self._main_thread = threading.get_ident()
        self.startup_error: str | None = None
        self._poll_error: str | None = None
        self._frozen_modes: set[str] = set()
        self._last_failure: tuple[str, float] = ("", 0.0)
        self.data_version = 0  # counts data_changed announcements (prefetches check it)
        self._prefetched: dict[str, tuple] = {}
        self._startup_hold = False  # full collections held off while starting (tui.collector)
        self._young_widened = False  # this app counted among the running ones (tui.collector)
        from crm_tui.config import load_settings

        self.settings = load_settings()
        if self.settings.get("theme") in self.available_themes:
            self.theme = self.settings["theme"]
        keymap = self.settings.get("keymap")
        if isinstance(keymap, dict):
            self.set_keymap({str(k): str(v) for k, v in keymap.items()})

    # -- start-up -------------------------------------------------------------

    @property
    def db_spec(self):
        """What the app was asked to open (a path, a URL, a ``Database`` or None)."""
        return self._db_spec

    def on_mount(self) -> None:
        # No full garbage collection until the database is open (see tui.collector): one over
        # everything start-up just made is a 60–80 ms pause in the middle of it. And young
        # collections only every YOUNG new objects, not five times a frame.
        self._startup_hold = self._young_widened = True
        COLLECTOR.app_started()
        COLLECTOR.hold()
        self.mode_change_signal.subscribe(self, self._mode_changed)
        self.data_changed.subscribe(self, self._count_change)
        self.switch_mode(self._initial_mode)
        # After the first frame: the database layer's imports would otherwise compete with it.
        self.call_after_refresh(self._open_database)

    @work(thread=True, exclusive=True, group="open-db", exit_on_error=False)
    def _open_database(self):
        from crm_tui.db import Database
        from crm_tui.services import Services

        db = self._db_spec if isinstance(self._db_spec, Database) else Database.open(self._db_spec)
        return db, Services(db, user=self.user, clock=self.clock)

    def report_failure(self, error: BaseException, doing: str = "load") -> None:
        """A screen's read failed: say so (the same message at most every 30 s), never leave old
        rows on screen in silence."""
        from crm_tui.errors import CrmError

        message = f"Could not {doing}: " + (
            error.message if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
        )
        said, at = self._last_failure
        if message != said or time.monotonic() - at > 30:  # several screens failing at once: say it once
            self._last_failure = (message, time.monotonic())
            self.notify(message, severity="error", timeout=10, markup=False)

    @on(Worker.StateChanged)
    def _db_opened(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "open-db":
            return
        if event.state == WorkerState.ERROR:
            from crm_tui.errors import CrmError

            error = event.worker.error
            self.startup_error = error.message if isinstance(error, CrmError) else f"cannot open the database: {error}"
            self._end_startup_hold()
            self.exit(2, return_code=2)
        elif event.state == WorkerState.SUCCESS:
            self.db, self.services = event.worker.result
            if self.user is None:
                self.user = self.services.user
            self.db.subscribe(self._on_db_change)
            from crm_tui.models import ALL_TABLES

            self.data_changed.publish(frozenset(ALL_TABLES))
            self.call_after_refresh(self._end_startup_hold)
            self.set_timer(WARM_UP_AFTER, self._warm_up)
            if self.db.permission_warning:
                self.notify(self.db.permission_warning, title="Privacy", severity="warning", timeout=12, markup=False)
            if self._poll:
                self.set_interval(POLL_SECONDS, self._poll_other_sessions)

    # -- memory ---------------------------------------------------------------

    def _mode_changed(self, mode: str) -> None:
        if mode not in self._frozen_modes:
            self._frozen_modes.add(mode)
            self.call_after_refresh(self._freeze_long_lived)

    def _end_startup_hold(self, *, freeze: bool = True) -> None:
        """Start-up is over: what it made lives all session (frozen), full collections resume."""
        if self._startup_hold:
            self._startup_hold = False
            COLLECTOR.release(freeze=freeze)

    def on_unmount(self) -> None:
        self._end_startup_hold(freeze=False)  # closing before the database opened
        if self._young_widened:  # Unmount comes even when Mount never did
            self._young_widened = False
            COLLECTOR.app_stopped()

    @staticmethod
    def _freeze_long_lived() -> None:
        """Move what exists now (modules, the database layer, the four main screens — all kept
        for the whole session) out of the garbage collector's view. Python's full collections
        otherwise walk every one of those objects: 50–115 ms pauses, several a minute while
        keys are pressed. Done when a main screen first shows (start-up and the warm-up's
        imports freeze through ``tui.collector``), never for screens that come and go."""
        gc.freeze()

    @work(thread=True, exclusive=True, group="warm-up", exit_on_error=False)
    def _warm_up(self) -> None:
        """Right after the database opens, before a person reacts to the first rows: import the
        other screens' code, rehearse each kind of search (matching nothing) and a stage move
        (rolled back), and read the board ahead, so the first switch to a screen, the first
        keystrokes of a search and the first L/H do not pay for them (≈60, ≈10 each, ≈20 and
        ≈120 ms)."""
        import importlib

        from crm_tui.errors import CrmError
        from crm_tui.queries.customers import rehearse_search

        COLLECTOR.hold()  # this code lives as long as the app: frozen once imported
        try:
            for factory in self.MODES.values():
                module = getattr(factory, "module", None)
                if module:
                    importlib.import_module(module)
        finally:
            COLLECTOR.release()
        # Rehearsals only save the first search and the first move some milliseconds: whatever
        # goes wrong in one (a read-only file, a permission the server refuses) must not stop
        # the rest of the warm-up, and the real search or move reports its own errors.
        for rehearse in (lambda: rehearse_search(self.db), self.services.rehearse_move):
            try:
                rehearse()
            except Exception:  # noqa: BLE001
                pass
        if self._current_mode != "pipeline":
            from crm_tui.queries.pipeline import load_board

            version, now = self.data_version, self.clock()
            try:
                board = load_board(self.db, None, now=now)
            except CrmError:
                return
            self.call_from_thread(self._store_prefetch, "pipeline", version, (board, now))

    def _store_prefetch(self, name: str, version: int, value) -> None:
        self._prefetched[name] = (version, time.monotonic(), value)

    def take_prefetched(self, name: str, max_age: float = 60.0):
        """What the warm-up read ahead for ``name`` (e.g. the board, before the first switch to
        Pipeline) — only if nothing changed since and it is at most ``max_age`` seconds old."""
        found = self._prefetched.pop(name, None)
        if found is None:
            return None
        version, at, value = found
        return value if version == self.data_version and time.monotonic() - at <= max_age else None

    def _count_change(self, _tables) -> None:
        self.data_version += 1

    # -- live updates ---------------------------------------------------------

    def _on_db_change(self, change) -> None:
        """Called in whichever thread committed; fan out on the event loop."""
        if threading.get_ident() == self._main_thread:
            self.data_changed.publish(change.tables)
        else:
            try:
                self.call_from_thread(self.data_changed.publish, change.tables)
            except RuntimeError:  # the app is shutting down
                pass

    def _poll_other_sessions(self) -> None:
        self._poll_worker()

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll_worker(self) -> None:
        from crm_tui.errors import CrmError

        try:
            self.db.poll_changes()  # announces through _on_db_change
        except CrmError as exc:  # e.g. the database folder was deleted: say so once
            if exc.message != self._poll_error:
                self._poll_error = exc.message
                self.call_from_thread(self.notify, exc.message, severity="error", timeout=15, markup=False)
        else:
            self._poll_error = None

    # -- undo -----------------------------------------------------------------

    def push_undo(self, label: str, undo: Callable[[], object]) -> None:
        self.undo_stack.push(UndoEntry(label, undo))

    def action_undo(self) -> None:
        entry = self.undo_stack.pop()
        if entry is None:
            self.notify("Nothing to undo", timeout=2)
            return
        self._run_undo(entry)

    @work(thread=True, group="undo", exit_on_error=False)
    def _run_undo(self, entry: UndoEntry) -> None:
        from crm_tui.errors import CrmError

        try:
            entry.undo()
        except CrmError as exc:
            self.call_from_thread(self.notify, f"Cannot undo: {exc.message}", severity="error", markup=False)
            return
        self.call_from_thread(self.notify, f"Undone: {entry.label}", timeout=3, markup=False)

    # -- navigation -----------------------------------------------------------

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def open_customer(self, customer_id: int) -> None:
        from crm_tui.tui.screens.customer_detail import CustomerDetailScreen

        self.switch_mode("customers")
        self.push_screen(CustomerDetailScreen(customer_id))

    def open_deal(self, deal_id: int) -> None:
        from crm_tui.tui.screens.deal_detail import DealDetailScreen

        self.switch_mode("pipeline")
        self.push_screen(DealDetailScreen(deal_id))

    def watch_theme(self, theme: str) -> None:
        if self.settings.get("theme") != theme:
            from crm_tui.config import save_settings

            self.settings["theme"] = theme
            try:
                save_settings(self.settings)
            except OSError as exc:
                self.notify(f"Theme not saved: {exc}", severity="warning", markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, title in self.MODE_TITLES.items():
            yield SystemCommand(f"Go to {title}", f"Show the {title} screen", lambda m=mode: self.switch_mode(m))
        yield SystemCommand("Undo", "Undo the last delete, move, win/lose or completion", self.action_undo)
        from crm_tui.tui.transfer_commands import transfer_commands

        yield from transfer_commands(self)
        yield from getattr(screen, "extra_commands", lambda: ())()


def create_app(db=None, **kwargs) -> CrmApp:
    """Build the app on a database path/URL (or an open ``Database``)."""
    return CrmApp(db, **kwargs)
