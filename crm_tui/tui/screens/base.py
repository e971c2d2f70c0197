"""What every main screen shares: live reloads and running services in threads.

Screens never run SQL on the event loop. ``reload()`` starts a thread worker
that reads and then hands rows to widgets; ``run_service()`` runs one
validated write in a thread worker, shows a clear message if it was refused,
and pushes an undo entry when it changes something a user may want back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from crm_tui.errors import CrmError


class CrmScreen(Screen):
    #: tables whose change makes this screen reload (see ``Database.write``)
    WATCHES: frozenset[str] = frozenset()

    def __init__(self, *args, **kwargs) -> None:
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
        if self.is_current:
            self.reload()
        else:
            self._stale = True

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.reload()

    def reload(self) -> None:
        """Fetch what the screen shows (in a thread worker). Subclasses implement."""

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
        undo: Callable[[Any], Callable[[], object]] | None = None,
        undo_label: str | Callable[[Any], str] = "",
        success: str | Callable[[Any], str] | None = None,
        on_error: Callable[[CrmError], None] | None = None,
    ) -> Worker:
        """Run ``call()`` (a services method) in a thread worker.

        On success, in one hand-off to the event loop: ``done(result)`` first
        (what the user is looking at changes at once), an undo entry built by
        ``undo(result)``, then an optional toast after that frame. On a
        ``CrmError``: ``on_error`` or an error toast; nothing else happens.
        """
        app = self.app

        def work() -> None:
            try:
                result = call()
            except CrmError as exc:
                app.call_from_thread(
                    on_error or (lambda e: app.notify(e.message, severity="error", timeout=6, markup=False)), exc
                )
                return
            label = undo_label(result) if undo is not None and callable(undo_label) else undo_label
            message = success(result) if callable(success) else success
            app.call_from_thread(finish, result, label, message)

        def finish(result, label, message) -> None:
            if done is not None:
                done(result)
            if undo is not None:
                app.push_undo(label, undo(result))
            if message:
                app.call_after_refresh(app.notify, message, timeout=3, markup=False)

        return self.run_worker(work, thread=True, group="service", exit_on_error=False)
