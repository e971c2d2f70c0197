"""What every screen shares: live reloads, writes through the services in threads, keys that
land where the rep meant.

Screens never run SQL on the event loop. ``reload()`` starts a thread worker that reads and
posts a message with what it read (and the generation it was asked for, so a stale answer is
dropped); ``run_service()`` runs one validated write in a thread worker and shows a clear
message if it was refused or failed. Undo is the change journal's (``ctrl+z`` in the app):
every write is undoable without the screen doing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import on
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from crm_tui.errors import ConflictError, CrmError

if TYPE_CHECKING:
    from textual import getters
    from textual.app import App

    from crm_tui.tui.app import CrmApp


class CrmScreen(Screen[Any]):
    #: tables whose change makes this screen reload (see ``Database.write``)
    WATCHES: frozenset[str] = frozenset()

    if TYPE_CHECKING:
        # the running app is a ``CrmApp`` (for the type checker; Textual's own property at run time)
        app = getters.app(CrmApp)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stale = False

    def on_mount(self) -> None:
        # Textual calls every class's on_mount along the MRO, this one after a subclass's own:
        # subclasses must not call super().on_mount() (it would subscribe and load twice).
        self.app.data_changed.subscribe(self, self._on_data_changed)
        if self.app.db is not None:
            self.reload()

    def _on_data_changed(self, tables: frozenset[str]) -> None:
        if not (tables & self.WATCHES):
            return
        if self.is_current or self.app.screen is self:  # on top, also while still being pushed
            self.reload()
        else:
            self._stale = True

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.reload()

    def reload(self) -> None:
        """Fetch what the screen shows (in a thread worker). Subclasses implement."""

    def focus_now(self, widget: Widget) -> None:
        """Focus ``widget`` before the next key is handled. ``Widget.focus()`` waits for the
        keys already queued, so letters typed in one burst with ``/`` (as they arrive over SSH)
        would reach the list's bindings — ``d`` would delete — instead of the search box."""
        self.set_focus(widget)

    def said_when_saved(self, message: str) -> Callable[[Any], None]:
        """A form's callback: ``message`` in a toast when the form saved (nothing when it was closed)."""

        def said(result: Any) -> None:
            if result:
                self.app.notify(message, timeout=3)

        return said

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.report_failure(event.worker.error, "save" if event.worker.group == "service" else "load")

    # -- writes -----------------------------------------------------------------

    def run_service(
        self,
        call: Callable[[], Any],
        *,
        done: Callable[[Any], None] | None = None,
        success: str | Callable[[Any], str] | None = None,
        on_error: Callable[[CrmError], None] | None = None,
    ) -> Worker[None]:
        """Run ``call()`` (a services method) in a thread worker.

        On success, in one hand-off to the event loop: ``done(result)`` first (what the rep is
        looking at changes at once), then an optional toast after that frame. On a
        ``CrmError``: ``on_error`` or an error toast (a conflict says so); nothing else happens.
        Any other failure is shown by ``_worker_failed``."""
        app = self.app

        def work() -> None:
            try:
                result = call()
            except CrmError as exc:
                app.call_from_thread(on_error or _show_refusal(app), exc)
                return
            message = success(result) if callable(success) else success
            app.call_from_thread(finish, result, message)

        def finish(result: Any, message: str | None) -> None:
            if done is not None:
                done(result)
            if message:
                app.call_after_refresh(app.notify, message, timeout=3, markup=False)

        return self.run_worker(work, thread=True, group="service", exit_on_error=False)


def _show_refusal(app: App[Any]) -> Callable[[CrmError], None]:
    def show(error: CrmError) -> None:
        title = "Changed elsewhere" if isinstance(error, ConflictError) else ""
        app.notify(error.message, title=title, severity="error", timeout=8, markup=False)

    return show
