"""What every main screen shares: live reloads and running services in threads.

Screens never run SQL on the event loop. ``reload()`` starts a thread worker
that reads and then hands rows to widgets; ``run_service()`` runs one
validated write in a thread worker, shows a clear message if it was refused,
and pushes an undo entry when it changes something a user may want back.
"""

from __future__ import annotations

from typing import Any, Callable

from textual.screen import Screen
from textual.worker import Worker

from crm_tui.errors import CrmError


class CrmScreen(Screen):
    #: tables whose change makes this screen reload (see ``Database.write``)
    WATCHES: frozenset[str] = frozenset()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stale = False

    def on_mount(self) -> None:
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

        On success: ``done(result)`` on the event loop, an optional toast, and
        an undo entry built by ``undo(result)``. On a ``CrmError``: ``on_error``
        or an error toast; nothing else happens.
        """
        app = self.app

        def work() -> None:
            try:
                result = call()
            except CrmError as exc:
                app.call_from_thread(on_error or (lambda e: app.notify(e.message, severity="error", timeout=6, markup=False)), exc)
                return
            if undo is not None:
                label = undo_label(result) if callable(undo_label) else undo_label
                app.call_from_thread(app.push_undo, label, undo(result))
            if success:
                app.call_from_thread(
                    app.notify, success(result) if callable(success) else success, timeout=3, markup=False
                )
            if done is not None:
                app.call_from_thread(done, result)

        return self.run_worker(work, thread=True, group="service", exit_on_error=False)
