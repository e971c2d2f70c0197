"""The application shell: five sections, live updates, undo and redo, the palette, themes.

``create_app()`` is the one factory the CLI and the tests share. The database is opened in a
thread worker after the first paint; when it is ready every screen is told "everything changed"
and loads its rows. The sections (``SECTIONS``) are declared once: the modes, their keys, the
screen bar and the palette's "Go to …" commands all come from that declaration.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState

from crm_tui.tui.commands import JumpProvider, binding_commands, design_commands

if TYPE_CHECKING:
    from concurrent.futures import Future

    from crm_tui.db import Database
    from crm_tui.queries.agenda import AgendaItem
    from crm_tui.queries.first_page import FirstPage
    from crm_tui.services import Services
    from crm_tui.tui.collector import Collector

POLL_SECONDS = 0.5
#: how often the app looks for the rep's tasks coming due, and how long before the due time it says so
REMINDER_SECONDS = 20.0
REMIND_AHEAD = dt.timedelta(minutes=5)
WARM_UP_AFTER = 0.05  # s after the database opens: done before a person reacts to the first rows

#: every screen's and form's stylesheet (each beside its module), relative to this folder
STYLESHEETS = sorted(p.relative_to(Path(__file__).parent).as_posix() for p in Path(__file__).parent.glob("*/*.tcss"))


@dataclass(frozen=True)
class Section:
    """One of the app's independent screens (a Textual mode) and how a rep reaches it."""

    mode: str
    title: str
    keys: str  # the default keys of its binding (remappable by id: screen.<mode>)
    module: str
    screen: str
    tooltip: str

    @property
    def binding_id(self) -> str:
        return f"screen.{self.mode}"


SECTIONS = (
    Section("customers", "Customers", "1,f1", "crm_tui.tui.screens.customers", "CustomersScreen",
            "Show the customer list"),
    Section("pipeline", "Pipeline", "2,f2", "crm_tui.tui.screens.pipeline", "PipelineScreen",
            "Show the deal funnel"),
    Section("tasks", "Tasks", "3,f3", "crm_tui.tui.screens.tasks", "TasksScreen", "Show the task queue"),
    Section("reports", "Reports", "4,f4", "crm_tui.tui.screens.reports", "ReportsScreen", "Show the reports"),
    Section("orders", "Orders", "5,f5", "crm_tui.tui.screens.orders", "OrdersScreen", "Show the orders"),
)  # fmt: skip


def _lazy(section: Section) -> Callable[[], Screen[Any]]:
    def make() -> Screen[Any]:
        import importlib

        screen: Screen[Any] = getattr(importlib.import_module(section.module), section.screen)()
        return screen

    return make


class CrmApp(App[int]):
    TITLE = "crm-tui"
    #: Every screen's and form's stylesheet, read once at start-up: a screen whose
    #: stylesheet is new makes Textual re-parse and re-apply all CSS to every widget,
    #: which would otherwise land on the first switch to each screen.
    #: Each screen keeps its own CSS_PATH; the paths resolve to the same files.
    CSS_PATH = ["app.tcss", *STYLESHEETS]
    COMMANDS = App.COMMANDS | {JumpProvider}
    SECTIONS = SECTIONS
    #: the rep's open tasks overdue or due today (the screen bar shows it beside Tasks)
    due_today: var[int | None] = var(None)
    MODES = {s.mode: _lazy(s) for s in SECTIONS}
    BINDINGS = [
        *(
            Binding(s.keys, f"section('{s.mode}')", s.title, id=s.binding_id, show=False, tooltip=s.tooltip)
            for s in SECTIONS
        ),
        Binding("ctrl+z", "undo", "Undo", id="app.undo", tooltip="Undo your last change, whatever it was"),
        Binding("ctrl+y", "redo", "Redo", id="app.redo", show=False, tooltip="Redo the change you undid last"),
        Binding("question_mark", "toggle_help", "Keys", id="app.help", tooltip="Show the keys of this screen"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit crm-tui", priority=True, show=False),
    ]

    class DatabaseOpened(Message):
        """The database and the services are ready (posted by the opening worker)."""

        def __init__(self, db: Database, services: Services) -> None:
            super().__init__()
            self.db = db
            self.services = services

    class BoardPrefetched(Message):
        """The warm-up read the board ahead of the first switch to Pipeline."""

        def __init__(self, version: int, board: object, now: dt.datetime) -> None:
            super().__init__()
            self.version = version
            self.board = board
            self.now = now

    def __init__(
        self,
        db: str | Database | None = None,
        *,
        user: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        poll: bool = True,
        initial_mode: str = "customers",
        memory: Collector | None = None,
    ) -> None:
        if initial_mode not in self.MODES:
            raise ValueError(f"no such section: {initial_mode!r}")
        # The first section's screen is Textual's default screen, not a mode's: a mode's new screen
        # makes Textual re-parse and re-apply every stylesheet twice on the way to the first frame.
        # Its mode is added back once the app is mounted (on_mount), so its keys reach it as before.
        self.DEFAULT_MODE = initial_mode  # type: ignore[misc]
        self.MODES = {mode: make for mode, make in type(self).MODES.items() if mode != initial_mode}  # type: ignore[misc]
        super().__init__()
        self._db_spec = db
        self.db: Database | None = None
        self.services: Services | None = None
        self.user = user
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.data_changed: Signal[frozenset[str]] = Signal(self, "data-changed")
        self._poll = poll
        self._initial_mode = initial_mode
        self._first_page: Future[FirstPage | None] | None = None
        if initial_mode == "customers":
            # Read while Textual builds the first screen (see queries.first_page.read_ahead).
            from crm_tui.queries.first_page import read_ahead
            from crm_tui.tui.screens.customers import PAGE

            self._first_page = read_ahead(db, PAGE)
        self._main_thread = threading.get_ident()
        self.startup_error: str | None = None
        self._poll_error: str | None = None
        self._frozen_modes: set[str] = set()
        self._last_failure: tuple[str, float] = ("", 0.0)
        self.data_version = 0  # counts data_changed announcements (prefetches check it)
        self._prefetched: dict[str, tuple[int, float, object]] = {}
        self._reminded: set[tuple[int, dt.datetime]] = set()  # (task, due) already announced
        self._reminders_since: dt.datetime | None = None  # tasks overdue when the app opened are not announced
        # The garbage collector's settings while the app runs (crm_tui.tui.collector), given by
        # the command line; tests and embedding programs leave the process's collector alone.
        self.memory = memory
        self._startup_hold = False
        self._memory_counted = False
        from crm_tui.config import SettingsError, load_settings

        try:
            self.settings = load_settings()
            self._settings_error: str | None = None
        except SettingsError as exc:
            self.settings, self._settings_error = {}, exc.message
        if self.settings.get("theme") in self.available_themes:
            self.theme = self.settings["theme"]
        keymap = self.settings.get("keymap")
        self.rep_keymap: dict[str, str] = {}  # settings.json's keymap, as given to set_keymap
        if isinstance(keymap, dict):
            self.rep_keymap = {str(k): str(v) for k, v in keymap.items()}
            self.set_keymap(self.rep_keymap)

    # -- start-up -------------------------------------------------------------

    @property
    def db_spec(self) -> str | Database | None:
        """What the app was asked to open (a path, a URL, a ``Database`` or None)."""
        return self._db_spec

    def take_first_page(self) -> Future[FirstPage | None] | None:
        """The customer list's first page, being read since the app was built (once; then None)."""
        ahead, self._first_page = self._first_page, None
        return ahead

    def get_default_screen(self) -> Screen[Any]:
        return _lazy(self._first_section)()

    @property
    def _first_section(self) -> Section:
        return next(s for s in self.SECTIONS if s.mode == self._initial_mode)

    def on_mount(self) -> None:
        if self.memory is not None:
            # No full garbage collection until the database is open (see tui.collector), and
            # young collections only every YOUNG new objects, not several times a frame.
            self._startup_hold = self._memory_counted = True
            self.memory.app_started()
            self.memory.hold()
            self.mode_change_signal.subscribe(self, self._mode_changed)
        self.data_changed.subscribe(self, self._count_change)
        self.data_changed.subscribe(self, self._tasks_changed)
        self.add_mode(self._initial_mode, _lazy(self._first_section))
        if self._settings_error:
            self.notify(self._settings_error, title="Settings", severity="warning", timeout=15, markup=False)
        # After the first frame: the database layer's imports would otherwise compete with it.
        self.call_after_refresh(self._open_database)

    @work(thread=True, exclusive=True, group="open-db", exit_on_error=False)
    def _open_database(self) -> None:
        from crm_tui.db import Database
        from crm_tui.services import Services

        db = self._db_spec if isinstance(self._db_spec, Database) else Database.open(self._db_spec)
        self.post_message(self.DatabaseOpened(db, Services(db, user=self.user, clock=self.clock)))

    def report_failure(self, error: BaseException, doing: str = "load") -> None:
        """A screen's read or save failed: say so (the same message at most every 30 s), never
        leave old rows on screen in silence."""
        from crm_tui.errors import CrmError

        message = f"Could not {doing}: " + (
            error.message if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
        )
        said, at = self._last_failure
        if message != said or time.monotonic() - at > 30:  # several screens failing at once: say it once
            self._last_failure = (message, time.monotonic())
            self.notify(message, severity="error", timeout=10, markup=False)

    @on(Worker.StateChanged)
    def _worker_ended(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "open-db":
            from crm_tui.errors import CrmError

            self.startup_error = error.message if isinstance(error, CrmError) else f"cannot open the database: {error}"
            self._end_startup_hold()
            self.exit(2, return_code=2)
        elif error is not None and event.worker.node is self:
            self.report_failure(error, "save" if event.worker.group in ("undo", "redo") else "load")

    @on(DatabaseOpened)
    def _db_opened(self, event: DatabaseOpened) -> None:
        self.db, self.services = event.db, event.services
        if self.user is None or event.db.login:  # on a team's server the login is "me", whatever was asked
            self.user = self.services.user
        self.db.subscribe(self._on_db_change)
        from crm_tui.models import ALL_TABLES

        self._reminders_since = self.clock()  # before the announcement: it counts the rep's day
        self.data_changed.publish(frozenset(ALL_TABLES) | {"journal"})
        self.call_after_refresh(self._end_startup_hold)
        self.set_timer(WARM_UP_AFTER, self._warm_up)
        if self.db.permission_warning:
            self.notify(self.db.permission_warning, title="Privacy", severity="warning", timeout=12, markup=False)
        if self._poll:
            self.set_interval(POLL_SECONDS, self._poll_other_sessions)
        self.set_interval(REMINDER_SECONDS, self.check_reminders)
        if self.rep_keymap:  # its mistakes said once start-up's reads are done (it imports every screen)
            from crm_tui.tui.keymap import CHECK_AFTER, check

            worker = partial(self.run_worker, partial(check, self), thread=True, exit_on_error=False)
            self.set_timer(CHECK_AFTER, worker)

    # -- reminders --------------------------------------------------------------

    class Reminders(Message):
        """Tasks of the rep's coming due, and how many are overdue or due today (read by the
        reminders worker)."""

        def __init__(self, items: list[AgendaItem], due_today: int) -> None:
            super().__init__()
            self.items = items
            self.due_today = due_today

    def _tasks_changed(self, tables: frozenset[str]) -> None:
        if tables & {"task", "deal", "customer"}:
            self.check_reminders()

    def check_reminders(self) -> None:
        """Look (in a thread) for the rep's open tasks due within REMIND_AHEAD."""
        if self.db is not None and self.user and self._reminders_since is not None:
            now = self.clock()
            self._read_reminders(self.db, self.user, self._reminders_since, now + REMIND_AHEAD)

    @work(thread=True, exclusive=True, group="reminders", exit_on_error=False)
    def _read_reminders(self, db: Database, owner: str, after: dt.datetime, until: dt.datetime) -> None:
        from crm_tui.queries.agenda import coming_due
        from crm_tui.queries.tasks import day_count

        items = coming_due(db, owner, after=after, until=until)
        self.post_message(self.Reminders(items, day_count(db, owner, now=self.clock())))

    @on(Reminders)
    def _remind(self, event: Reminders) -> None:
        self.due_today = event.due_today
        for item in event.items:
            assert item.task_id is not None and item.due is not None
            if (item.task_id, item.due) in self._reminded:
                continue
            self._reminded.add((item.task_id, item.due))  # snoozed to a new time: announced again then
            about = " · ".join(x for x in (item.customer, item.deal) if x)
            when = item.due.astimezone().strftime("%H:%M")
            self.notify(
                f"{item.kind.capitalize()} at {when}: {item.subject}" + (f" ({about})" if about else ""),
                title="Coming up",
                timeout=12,
                markup=False,
            )
            if self.settings.get("bell"):
                self.bell()

    # -- memory ---------------------------------------------------------------

    def _mode_changed(self, mode: str) -> None:
        if mode not in self._frozen_modes:
            self._frozen_modes.add(mode)
            self.call_after_refresh(self._freeze_long_lived)

    def _end_startup_hold(self, *, freeze: bool = True) -> None:
        """Start-up is over: what it made lives all session (frozen), full collections resume."""
        if self._startup_hold and self.memory is not None:
            self._startup_hold = False
            self.memory.release(freeze=freeze)

    def on_unmount(self) -> None:
        self._end_startup_hold(freeze=False)  # closing before the database opened
        if self._memory_counted and self.memory is not None:  # Unmount comes even when Mount never did
            self._memory_counted = False
            self.memory.app_stopped()

    def _freeze_long_lived(self) -> None:
        """Move what exists now (modules, the database layer, the main screens — all kept for
        the whole session) out of the garbage collector's view when a main screen first shows
        (see tui.collector); never for screens that come and go."""
        if self.memory is not None:
            self.memory.freeze()

    def _warm_up(self) -> None:
        self._warm_up_worker(read_board=self.current_mode != "pipeline")

    @work(thread=True, exclusive=True, group="warm-up", exit_on_error=False)
    def _warm_up_worker(self, read_board: bool) -> None:
        """Right after the database opens, before a person reacts to the first rows: import the
        other screens' code, rehearse each kind of search (matching nothing) and a stage move
        (rolled back), and read the board ahead, so the first switch to a screen, the first
        keystrokes of a search and the first L/H do not pay for them."""
        import importlib

        from crm_tui.errors import CrmError
        from crm_tui.queries.customers import rehearse_search

        db, services = self.db, self.services
        if db is None or services is None:
            return
        if self.memory is not None:
            self.memory.hold()  # this code lives as long as the app: frozen once imported
        try:
            for section in SECTIONS:
                importlib.import_module(section.module)
        finally:
            if self.memory is not None:
                self.memory.release()
        # Rehearsals only save the first search and the first move some milliseconds: whatever
        # goes wrong in one (a read-only file, a permission the server refuses) must not stop
        # the rest of the warm-up, and the real search or move reports its own errors.
        for rehearse in (lambda: rehearse_search(db), services.rehearse_move):
            try:
                rehearse()
            except Exception:  # noqa: BLE001 - a rehearsal's failure is the real action's to report
                pass
        if read_board:
            from crm_tui.queries.pipeline import load_board

            version, now = self.data_version, self.clock()
            try:
                board = load_board(db, None, now=now)
            except CrmError:
                return
            self.post_message(self.BoardPrefetched(version, board, now))

    @on(BoardPrefetched)
    def _store_prefetch(self, event: BoardPrefetched) -> None:
        self._prefetched["pipeline"] = (event.version, time.monotonic(), (event.board, event.now))

    def take_prefetched(self, name: str, max_age: float = 60.0) -> Any:
        """What the warm-up read ahead for ``name`` (e.g. the board, before the first switch to
        Pipeline) — only if nothing changed since and it is at most ``max_age`` seconds old."""
        found = self._prefetched.pop(name, None)
        if found is None:
            return None
        version, at, value = found
        return value if version == self.data_version and time.monotonic() - at <= max_age else None

    def _count_change(self, _tables: frozenset[str]) -> None:
        self.data_version += 1

    # -- live updates ---------------------------------------------------------

    def _on_db_change(self, change: Any) -> None:
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

        if self.db is None:
            return
        try:
            self.db.poll_changes()  # announces through _on_db_change
        except CrmError as exc:  # e.g. the database folder was deleted: say so once
            if exc.message != self._poll_error:
                self._poll_error = exc.message
                self.call_from_thread(self.notify, exc.message, severity="error", timeout=15, markup=False)
        else:
            self._poll_error = None

    # -- undo and redo (from the change journal) ------------------------------

    class Reverted(Message):
        """An undo or redo finished: what it took back or brought back, or why it could not."""

        def __init__(self, verb: str, action: str | None, error: str | None, record: tuple[str, int] | None) -> None:
            super().__init__()
            self.verb, self.action, self.error = verb, action, error
            self.record = record  # (table, id) of the record the action was about, when it was one

    def action_undo(self) -> None:
        if self.services is not None:
            self._revert("undo")

    def action_redo(self) -> None:
        if self.services is not None:
            self._revert("redo")

    @work(thread=True, exclusive=True, group="undo", exit_on_error=False)
    def _revert(self, verb: str) -> None:
        from crm_tui.errors import CrmError, ValidationError

        assert self.services is not None
        try:
            done = self.services.undo() if verb == "undo" else self.services.redo()
        except ValidationError as exc:  # nothing to undo / redo
            self.post_message(self.Reverted(verb, None, exc.message[:1].upper() + exc.message[1:], None))
        except CrmError as exc:
            self.post_message(self.Reverted(verb, None, f"Cannot {verb}: {exc.message}", None))
        else:
            record = (done.record_table, done.record_id) if done.record_id is not None else None
            self.post_message(self.Reverted(verb, done.action, None, record))

    @on(Reverted)
    def _reverted(self, event: Reverted) -> None:
        if event.error is not None:
            nothing = event.error.startswith("Nothing")
            self.notify(
                event.error, severity="information" if nothing else "error", timeout=3 if nothing else 8, markup=False
            )
        else:
            self.notify(f"{event.verb.capitalize()}: {event.action}", timeout=4, markup=False)
            if event.record is not None and (follow := getattr(self.screen, "follow_record", None)):
                follow(*event.record)  # the cursor goes where the change went

    # -- keys -----------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        """A letter typed in the same burst as ``/`` (over SSH, or by a fast typist) is handed to
        the widget that had focus when the app read it — the list — before ``/`` has moved focus
        to the search box; it then comes back up to the app, where it would fire a binding (``d``
        deletes). A text box never passes a letter on, so a letter that reaches the app while one
        has focus was typed before it had: it goes into the box, in order, instead."""
        focused = self.focused
        if self.screen.is_modal:
            return  # a form takes in the keys of its burst itself (tui.modals.early_keys)
        if event.is_printable and isinstance(focused, (Input, TextArea)):
            event.prevent_default()
            event.stop()
            again = events.Key(event.key, event.character)
            again.set_sender(self)  # sent by the app, as the terminal's keys are
            focused.post_message(again)

    # -- navigation -----------------------------------------------------------

    def action_section(self, mode: str) -> None:
        """Go to a section's list (its first screen), whatever was open on top of it."""
        self.switch_mode(mode)
        while len(self.screen_stack) > 1 and not self.screen.is_modal:
            self.pop_screen()

    def section_key(self, section: Section) -> str:
        """The key a section is on now (a remapped one too), as shown to the rep."""
        for key, active in self.screen.active_bindings.items():
            if active.binding.id == section.binding_id:
                return self.get_key_display(active.binding) if key else key
        return section.keys.split(",")[0]

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def open_customer(self, customer_id: int) -> None:
        """The customer's page, on top of the screen the rep is on (escape comes back)."""
        from crm_tui.tui.screens.customer_detail import CustomerDetailScreen

        self.push_screen(CustomerDetailScreen(customer_id))

    def open_deal(self, deal_id: int) -> None:
        """The deal's page, on top of the screen the rep is on (escape comes back)."""
        from crm_tui.tui.screens.deal_detail import DealDetailScreen

        self.push_screen(DealDetailScreen(deal_id))

    def open_order(self, order_id: int) -> None:
        """The order's page, on top of the screen the rep is on (escape comes back)."""
        from crm_tui.tui.screens.order_detail import OrderDetailScreen

        self.push_screen(OrderDetailScreen(order_id))

    def open_funnel(self) -> None:
        """The funnel design page, on top of the screen the rep is on."""
        from crm_tui.tui.screens.funnel import FunnelScreen

        self.push_screen(FunnelScreen())

    def open_products(self) -> None:
        """The product catalogue, on top of the screen the rep is on."""
        from crm_tui.tui.screens.products import ProductsScreen

        self.push_screen(ProductsScreen())

    def open_currencies(self) -> None:
        """The home currency and the exchange rates, on top of the screen the rep is on."""
        from crm_tui.tui.screens.currencies import CurrenciesScreen

        self.push_screen(CurrenciesScreen())

    def watch_theme(self, theme: str) -> None:
        if self.settings.get("theme") == theme or self._settings_error:
            return  # a settings file we could not read is never written over
        from crm_tui.config import SettingsError, save_settings

        self.settings["theme"] = theme
        try:
            save_settings(self.settings)
        except (OSError, SettingsError) as exc:  # SettingsError: the file was broken meanwhile; kept
            self.notify(f"Theme not saved: {getattr(exc, 'message', exc)}", severity="warning", markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        builtin = list(super().get_system_commands(screen))
        yield from builtin
        for section in SECTIONS:
            yield SystemCommand(
                f"Go to {section.title}",
                f"{section.tooltip} ({self.section_key(section)})",
                lambda m=section.mode: self.action_section(m),
            )
        yield from design_commands(self, screen)
        names = {command.title for command in builtin} | {f"Go to {s.title}" for s in SECTIONS}
        yield from binding_commands(self, screen, skip=names)
        from crm_tui.tui.transfer_commands import transfer_commands

        yield from transfer_commands(self)
        yield from getattr(screen, "extra_commands", lambda: ())()


def create_app(db: str | Database | None = None, **kwargs: Any) -> CrmApp:
    """Build the app on a database path/URL (or an open ``Database``)."""
    return CrmApp(db, **kwargs)


__all__ = ["SECTIONS", "CrmApp", "Section", "create_app"]
