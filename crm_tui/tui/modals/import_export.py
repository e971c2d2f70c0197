"""Import a file of one kind of record, or export every record of a kind.

``ImportScreen(kind)`` asks for a file (tab completes the path), its kind, the encoding
(blank: detect) and day-first dates, then previews the import in a thread worker
(``crm_tui.io.preview``: a dry run, nothing written) and shows it with the mapping to edit
(``crm_tui.tui.modals.import_preview``); accepted, it runs ``crm_tui.io.import_file`` with that
mapping in a thread worker with a progress bar and shows the summary until closed.
The import commits through ``db.write``, so every screen reloads by itself.
``ExportScreen(kind)`` asks for a format and a file (default
``<kind>-YYYYMMDD.<fmt>`` in the working folder), runs ``export_kind`` in a
thread worker and shows the path and row count. Problems (missing file,
unknown encoding, a refused import) are shown beside the field; what was
typed stays.
"""

from __future__ import annotations

import codecs
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Select, Static

from crm_tui import safety
from crm_tui.errors import CrmError, ValidationError
from crm_tui.io.mapping import KINDS
from crm_tui.tui.widgets.path_input import PathInput, PathSuggester, resolve_path

IMPORT_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
FORMATS = ("csv", "xlsx", "json")
#: at most this often (seconds) the worker hands progress to the event loop
PROGRESS_EVERY = 0.1


class TransferScreen(ModalScreen[Any]):
    """What the import and export modals share: errors, progress, summary, buttons."""

    CSS_PATH = "import_export.tcss"
    BINDINGS = [
        Binding("ctrl+s", "run", "Run", id="transfer.run", tooltip="Start the import or export"),
        Binding("escape", "close", "Close", id="transfer.close", tooltip="Close (not while it runs)"),
    ]
    RUN_LABEL = "Run"
    KEYS_TEXT = "enter run · esc close"

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.running = False
        self.result: Any = None

    @property
    def crm(self) -> Any:
        """The app, with the database, clock and services of ``crm_tui.tui.app.CrmApp``."""
        return self.app

    def compose_fields(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(id="transfer-box"):
            yield Label(self.title_text(), id="transfer-title")
            yield from self.compose_fields()
            yield Static("", id="transfer-status", markup=False)
            yield ProgressBar(id="transfer-progress", show_eta=False)
            yield Static("", id="transfer-summary", markup=False)
            yield Static("", id="error-form", classes="transfer-error", markup=False)
            with Horizontal(id="transfer-buttons"):
                yield Static(self.KEYS_TEXT, id="transfer-keys")
                yield Button(self.RUN_LABEL, id="transfer-run", variant="primary")
                yield Button("Cancel", id="transfer-close")

    def title_text(self) -> str:
        return self.kind

    def on_mount(self) -> None:
        self.query_one("#transfer-path", Input).focus()

    # -- inline messages --------------------------------------------------------------

    def clear_errors(self) -> None:
        for widget in self.query(".transfer-error").results(Static):
            widget.update("")
            widget.remove_class("-shown")

    def show_error(self, message: str, field: str | None = None) -> None:
        target = self.query(f"#error-{field}").first(Static) if field and self.query(f"#error-{field}") else None
        if target is None:
            target = self.query_one("#error-form", Static)
        else:
            self.query_one(f"#transfer-{field}").focus()
        target.update(Text(message))
        target.add_class("-shown")

    def show_summary(self, lines: list[str]) -> None:
        summary = self.query_one("#transfer-summary", Static)
        summary.update(Text("\n".join(lines)))
        summary.add_class("-shown")

    # -- running ----------------------------------------------------------------------

    @on(Input.Submitted)
    @on(Button.Pressed, "#transfer-run")
    def action_run(self) -> None:
        if self.running:
            return
        self.clear_errors()
        self.query_one("#transfer-summary", Static).remove_class("-shown")
        if self.crm.db is None:
            self.show_error("The database is still opening; try again in a moment")
            return
        try:
            job = self.prepare()
        except ValidationError as exc:
            self.show_error(exc.message, exc.field)
            return
        if job is None:
            return
        self.start(job)

    def start(self, job: dict) -> None:
        """Run ``work(job)`` in a thread worker; ``finished`` shows what it returns."""
        self.set_running(True)
        self.query_one("#transfer-status", Static).update(self.running_text(job))
        self.run_worker(lambda: self._work(job), thread=True, group="transfer", exit_on_error=False)

    def prepare(self) -> dict | None:
        """Check the typed values (cheap checks only); → the job for ``work``, or None."""
        raise NotImplementedError

    def work(self, job: dict) -> Any:
        """Runs in the worker thread; returns the result ``finished`` shows."""
        raise NotImplementedError

    def summary_lines(self, result: Any) -> list[str]:
        raise NotImplementedError

    def _work(self, job: dict) -> None:
        try:
            result = self.work(job)
        except CrmError as exc:
            self.app.call_from_thread(self._failed, exc.message, exc.field)
        except Exception as exc:  # noqa: BLE001 - shown to the rep rather than lost in a log
            self.app.call_from_thread(self._failed, f"{self.RUN_LABEL.lower()} failed: {exc}", None)
        else:
            self.app.call_from_thread(self._finished, result)

    def progress_callback(self):
        """A ``progress(done, total)`` for the worker, throttled to PROGRESS_EVERY."""
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - last[0] < PROGRESS_EVERY:
                return
            last[0] = now
            try:
                self.app.call_from_thread(self._show_progress, done, total)
            except RuntimeError:  # the app is shutting down
                pass

        return progress

    def _show_progress(self, done: int, total: int) -> None:
        self.query_one("#transfer-progress", ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#transfer-status", Static).update(f"Checked and written {done:,} of {total:,} rows")

    def running_text(self, job: dict) -> str:
        return f"Reading {job['path'].name}…"

    def set_running(self, running: bool) -> None:
        self.running = running
        bar = self.query_one("#transfer-progress", ProgressBar)
        if running:
            bar.update(total=None, progress=0)
        bar.set_class(running, "-shown")
        self.query_one("#transfer-status", Static).set_class(running, "-shown")
        for widget in self.query("Input, Checkbox, Select, Button"):
            widget.disabled = running
        if not running:
            self.query_one("#transfer-close", Button).label = "Close"

    def wait_text(self) -> str:
        return "Wait for it to finish; it is one transaction"

    def _failed(self, message: str, field: str | None) -> None:
        self.set_running(False)
        self.show_error(message, field)

    def _finished(self, result: Any) -> None:
        self.result = result
        self.set_running(False)
        self.show_summary(self.summary_lines(result))
        self.query_one("#transfer-close", Button).focus()

    @on(Button.Pressed, "#transfer-close")
    def action_close(self) -> None:
        if self.running:
            self.notify(self.wait_text(), timeout=3)
            return
        self.dismiss(self.result)


class ImportScreen(TransferScreen):
    """The file and its kind, then the preview step (``ImportPreviewScreen``): the import runs
    only when the rep accepts the preview."""

    RUN_LABEL = "Import"
    KEYS_TEXT = "enter preview · esc close"

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self._job: dict = {}

    def title_text(self) -> str:
        return "Import from a CSV or XLSX file (previewed before it writes)"

    def compose_fields(self) -> ComposeResult:
        with Horizontal(classes="transfer-row"):
            yield Label("File", classes="transfer-label")
            yield PathInput(
                placeholder="e.g. ~/Downloads/export.csv (tab completes)",
                id="transfer-path",
                suggester=PathSuggester(IMPORT_SUFFIXES),
                compact=True,
            )
        yield Static("", id="error-path", classes="transfer-error", markup=False)
        with Horizontal(classes="transfer-row"):
            yield Label("Kind", classes="transfer-label")
            yield Select([(k, k) for k in KINDS], value=self.kind, allow_blank=False, id="transfer-kind", compact=True)
        with Horizontal(classes="transfer-row"):
            yield Label("Encoding", classes="transfer-label")
            yield Input(placeholder="blank: detect (UTF-8, else cp1252)", id="transfer-encoding", compact=True)
        yield Static("", id="error-encoding", classes="transfer-error", markup=False)
        with Horizontal(classes="transfer-row"):
            yield Label("", classes="transfer-label")
            yield Checkbox("Dates are day first", id="transfer-dayfirst", compact=True)

    @on(Select.Changed, "#transfer-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.kind = event.value

    def prepare(self) -> dict | None:
        typed = self.query_one("#transfer-path", Input).value
        if not typed.strip():
            raise ValidationError("give the file to import", field="path")
        path = resolve_path(typed)
        if not path.exists():
            raise ValidationError(f"{path}: no such file; check the path", field="path")
        if path.is_dir():
            raise ValidationError(f"{path} is a folder; give a .csv or .xlsx file", field="path")
        encoding = self.query_one("#transfer-encoding", Input).value.strip() or None
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ValidationError(
                    f"unknown encoding {encoding!r}; use e.g. utf-8, cp1252, latin-1 or cp850, or leave it blank",
                    field="encoding",
                ) from None
        self._job = {
            "path": path,
            "kind": self.kind,
            "encoding": encoding,
            "dayfirst": self.query_one("#transfer-dayfirst", Checkbox).value,
            "mapping": None,  # None: preview first
        }
        return self._job

    def work(self, job: dict):
        app = self.crm
        if job["mapping"] is None:
            from crm_tui.io.preview import preview_import

            return preview_import(
                app.db,
                job["kind"],
                job["path"],
                encoding=job["encoding"],
                dayfirst=job["dayfirst"],
                now=app.clock(),
                user=app.services.user,
            )
        from crm_tui.io import import_file

        return import_file(
            app.db,
            job["kind"],
            job["path"],
            mapping=job["mapping"],
            encoding=job["encoding"],
            dayfirst=job["dayfirst"],
            progress=self.progress_callback(),
            now=app.clock(),
            user=app.services.user,  # journaled as this rep's action: ctrl+z takes the import back
        )

    def wait_text(self) -> str:
        if self._job.get("mapping") is None:
            return "Wait a moment: the file is being read for the preview (nothing is written)"
        return super().wait_text()

    def running_text(self, job: dict) -> str:
        if job["mapping"] is None:
            return f"Reading {job['path'].name} (nothing is written yet)…"
        return f"Importing {job['path'].name}…"

    def _finished(self, result: Any) -> None:
        from crm_tui.io.preview import ImportPreview

        if not isinstance(result, ImportPreview):
            super()._finished(result)
            return
        from crm_tui.tui.modals.import_preview import ImportPreviewScreen

        self.set_running(False)
        self.app.push_screen(
            ImportPreviewScreen(result, encoding=self._job["encoding"], dayfirst=self._job["dayfirst"]),
            self._previewed,
        )

    def _previewed(self, choice: dict | None) -> None:
        """Back from the preview: import with the mapping it ended with, or nothing."""
        if choice is None:
            status = self.query_one("#transfer-status", Static)
            status.update("Nothing was written")
            status.add_class("-shown")
            self.query_one("#transfer-path", Input).focus()
            return
        self.kind = choice["kind"]
        self.query_one("#transfer-kind", Select).value = self.kind
        self.query_one("#transfer-dayfirst", Checkbox).value = choice["dayfirst"]
        self._job = {**self._job, "kind": choice["kind"], "mapping": choice["mapping"], "dayfirst": choice["dayfirst"]}
        self.start(self._job)

    def summary_lines(self, result) -> list[str]:
        lines = [result.summary()[:1].upper() + result.summary()[1:]]
        lines.extend(line.replace("pass --dayfirst", "tick 'Dates are day first'") for line in result.detail_lines())
        if result.unmapped_columns:
            where = "kept in notes" if result.unmapped_into_notes else "not imported"
            lines.append(f"Columns matching no field ({where}): " + ", ".join(repr(c) for c in result.unmapped_columns))
        if result.rejected:
            lines.extend(f"  {line}" for line in result.first_errors[:3])
            lines.append(f"Rejected rows with reasons: {result.errors_path}")
        if result.created or result.updated:
            lines.append("ctrl+z takes the whole import back")
        return lines


class ExportScreen(TransferScreen):
    RUN_LABEL = "Export"

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self._overwrite: Path | None = None

    def title_text(self) -> str:
        return f"Export every {self.kind[:-1]} (file created readable by you only)"

    def compose_fields(self) -> ComposeResult:
        day = self.crm.clock().astimezone().strftime("%Y%m%d")
        with Horizontal(classes="transfer-row"):
            yield Label("Format", classes="transfer-label")
            yield Select([(f, f) for f in FORMATS], value="csv", allow_blank=False, id="transfer-format", compact=True)
        with Horizontal(classes="transfer-row"):
            yield Label("File", classes="transfer-label")
            yield PathInput(
                f"{self.kind}-{day}.csv",
                id="transfer-path",
                compact=True,
                suggester=PathSuggester(tuple("." + f for f in FORMATS)),
            )
        yield Static("", id="error-path", classes="transfer-error", markup=False)

    @on(Select.Changed, "#transfer-format")
    def _format_changed(self, event: Select.Changed) -> None:
        box = self.query_one("#transfer-path", Input)
        stem, dot, suffix = box.value.rpartition(".")
        if dot and suffix.lower() in FORMATS and suffix.lower() != event.value:
            box.value = f"{stem}.{event.value}"

    @on(Input.Changed, "#transfer-path")
    def _path_changed(self, event: Input.Changed) -> None:
        suffix = Path(event.value).suffix.lower().lstrip(".")
        if suffix in FORMATS:
            self.query_one("#transfer-format", Select).value = suffix

    def prepare(self) -> dict | None:
        typed = self.query_one("#transfer-path", Input).value
        if not typed.strip():
            raise ValidationError("give the file to write", field="path")
        path = resolve_path(typed)
        if path.is_dir():
            raise ValidationError(f"{path} is a folder; add a file name", field="path")
        if not path.parent.is_dir():
            raise ValidationError(f"folder {path.parent} does not exist; create it or choose another", field="path")
        safety.check_output(path, database=self.crm.db.path, what="export", field="path")
        if path.exists() and self._overwrite != path:
            self._overwrite = path
            self.show_error(f"{path} exists; press {self.RUN_LABEL} again to replace it", "path")
            return None
        return {"path": path, "fmt": str(self.query_one("#transfer-format", Select).value)}

    def work(self, job: dict):
        from crm_tui.io import export_kind

        rows = export_kind(self.crm.db, self.kind, str(job["path"]), job["fmt"])
        return {"rows": rows, "path": job["path"], "fmt": job["fmt"]}

    def running_text(self, job: dict) -> str:
        return f"Writing {job['path'].name}…"

    def summary_lines(self, result) -> list[str]:
        self._overwrite = None
        noun = self.kind if result["rows"] != 1 else self.kind[:-1]
        return [f"Exported {result['rows']:,} {noun} as {result['fmt']} to", str(result["path"])]
