"""The import's preview step: what the file will become, before anything is written.

Pushed by ``ImportScreen`` with the first ``crm_tui.io.preview.ImportPreview`` (a dry run of the
importer's own code). Shows the CRM the headers look like, the dry run's counts, how dates were
read and the warnings, the first rows as the import reads them (a rejected cell marked ✗, its
reason shown when the cursor is on it) and the mapping: one Select per field of the kind, offering
the file's columns and "(not imported)". Changing one runs the preview again in a thread worker.

Dismisses with ``{"kind": …, "mapping": {column: field or "ignore"}}`` (enter / ctrl+s: import
with it) or None (escape: back to the file prompt; nothing was written). Everything from the file
(headers, cells, reasons quoting them) is drawn as literal text, never as markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Select, Static

from crm_tui.errors import CrmError
from crm_tui.tui.literal import literal, safe

if TYPE_CHECKING:
    from crm_tui.io.preview import ImportPreview

#: the Select value of "(not imported)" (a file's column name is never this)
NOT_IMPORTED = "\x00not-imported"
#: a cell the import rejects is drawn with this mark
REJECTED = "✗ "
#: two columns of field choices from this width on
WIDE = 110
#: a cell longer than this is cut (the whole of a rejected cell's reason shows under the table)
CELL_WIDTH = 40
PROBLEM_WIDTH = 60


def _cut(text: str, width: int = CELL_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class PreviewTable(DataTable[Text]):
    """The first rows. ``enter`` on them imports (the screen's action); a click only moves the
    cursor — a stray click must not write a file into the database."""

    class Accepted(Message):
        """enter on the rows"""

    def action_select_cursor(self) -> None:
        self.post_message(self.Accepted())


class ImportPreviewScreen(ModalScreen["dict[str, Any] | None"]):
    CSS_PATH = "import_preview.tcss"
    BINDINGS = [
        Binding(
            "ctrl+s,enter",
            "import",
            "Import",
            id="import_preview.import",
            tooltip="Write the file's rows with this mapping (one action: ctrl+z takes it back)",
        ),
        Binding("escape", "back", "Back", id="import_preview.back", tooltip="Back to the file; nothing is written"),
        Binding(
            "m", "focus_mapping", "Mapping", id="import_preview.mapping", tooltip="Choose which column feeds a field"
        ),
        Binding("r", "focus_rows", "Rows", id="import_preview.rows", tooltip="The first rows as they will be read"),
        Binding(
            "d",
            "dayfirst",
            "Day first",
            id="import_preview.dayfirst",
            tooltip="Read dates such as 3/4/2024 day first (3 April) or month first where the file does not say",
        ),
        Binding(
            "k",
            "suggested_kind",
            "Other kind",
            id="import_preview.kind",
            tooltip="Import the file as the kind its columns fit",
        ),
    ]

    class Ready(Message):
        def __init__(self, preview: ImportPreview, generation: int) -> None:
            super().__init__()
            self.preview = preview
            self.generation = generation

    class Failed(Message):
        def __init__(self, message: str, generation: int) -> None:
            super().__init__()
            self.message = message
            self.generation = generation

    def __init__(self, preview: ImportPreview, *, encoding: str | None = None, dayfirst: bool = False) -> None:
        super().__init__()
        self.preview = preview
        self.encoding = encoding
        self.dayfirst = dayfirst
        self.generation = 0  # the preview on screen answers this request; older answers are dropped
        self.checking = False
        self._mapped_kind = ""  # the kind the mapping grid was built for
        self._selects: dict[str, Select[str]] = {}  # field → its Select

    # -- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="preview-box"):
            yield Label("", id="preview-title", markup=False)
            yield Static("", id="preview-profile", markup=False)
            yield Static("", id="preview-counts", markup=False)
            yield Static("", id="preview-details", markup=False)
            yield Static("", id="preview-problem", markup=False)
            yield PreviewTable(id="preview-rows", cursor_type="cell", zebra_stripes=True)
            yield Static("", id="preview-cell", markup=False)
            yield Label("Which column feeds each field (m)", id="preview-mapping-title")
            yield Grid(id="preview-mapping")
            yield Static("", id="preview-unused", markup=False)
            yield Static("", id="preview-status", markup=False)
            with Horizontal(id="preview-buttons"):
                yield Static("enter import · m mapping · r rows · esc back", id="preview-keys", markup=False)
                yield Button("Import", id="preview-import", variant="primary")
                yield Button("Back", id="preview-back")

    def on_mount(self) -> None:
        self.show(self.preview)
        self.query_one("#preview-rows", DataTable).focus()

    def on_resize(self, event: Resize) -> None:
        self.query_one("#preview-mapping", Grid).styles.grid_size_columns = 2 if event.size.width >= WIDE else 1

    # -- showing a preview -------------------------------------------------------------

    def show(self, p: ImportPreview) -> None:
        self.preview = p
        name = Path(p.path).name
        self.query_one("#preview-title", Label).update(
            Text(f"Import {p.kind} from {safe(name)} (nothing written yet)", style="bold")
        )
        self.query_one("#preview-profile", Static).update(Text(p.profile_line()))
        self.query_one("#preview-counts", Static).update(Text(p.counts_line()))
        details = self.query_one("#preview-details", Static)
        # the importer words its date note for the command line (--dayfirst); here it is a key
        lines = [safe(line.replace("pass --dayfirst", "press d")) for line in p.detail_lines()]
        details.update(Text("\n".join(lines)))
        details.set_class(bool(lines), "-shown")
        problem = self.query_one("#preview-problem", Static)
        problem.update(Text(safe(p.problem)))
        problem.set_class(bool(p.problem), "-shown")
        self._fill_rows(p)
        if self._mapped_kind != p.kind:
            self._build_mapping(p)
        else:
            self._set_mapping(p)
        unused = self.query_one("#preview-unused", Static)
        text = Text()
        notes = [c for c in p.unused if c in p.into_notes]
        dropped = [c for c in p.unused if c not in p.into_notes]
        if notes:
            text.append("Kept in the notes (no field): " + ", ".join(safe(c) for c in notes))
        if dropped:
            text.append(("\n" if notes else "") + "Not imported: " + ", ".join(safe(c) for c in dropped))
        for f, others in p.also_read.items():
            text.append(("\n" if text.plain else "") + f"{f} also read from " + ", ".join(safe(c) for c in others))
            text.append(f" where {safe(p.columns.get(f, ''))} is blank")
        unused.update(text if text.plain else Text("Every column feeds a field"))
        keys = "enter import · m mapping · r rows · "
        keys += f"d day first: {'yes' if self.dayfirst else 'no'} · "
        if p.suggested_kind:
            keys += f"k as {p.suggested_kind} · "
        self.query_one("#preview-keys", Static).update(keys + "esc back")
        self.refresh_bindings()

    def _fill_rows(self, p: ImportPreview) -> None:
        table = self.query_one("#preview-rows", PreviewTable)
        table.clear(columns=True)
        fields = p.shown_fields
        table.add_column("line", key="line")
        for f in fields:
            table.add_column(f, key=f)
        table.add_column("problem", key="problem")
        for row in p.rows:
            cells = [Text(str(row.line))]
            for f in fields:
                cell = row.cells[f]
                if cell.problem:
                    cells.append(Text(REJECTED + _cut(safe(cell.text)), style="bold"))
                else:
                    cells.append(Text(_cut(safe(cell.text)), no_wrap=True))
            cells.append(Text(_cut(safe(row.problem or "ok"), PROBLEM_WIDTH), no_wrap=True))
            table.add_row(*cells, key=str(row.line))
        self.query_one("#preview-cell", Static).update("")

    def _options(self, p: ImportPreview) -> list[tuple[Text, str]]:
        return [(Text("(not imported)"), NOT_IMPORTED), *[(literal(c), c) for c in p.headers]]

    def _build_mapping(self, p: ImportPreview) -> None:
        grid = self.query_one("#preview-mapping", Grid)
        grid.remove_children()
        self._selects = {}
        rows = []
        for f in p.fields:
            select: Select[str] = Select(
                self._options(p), value=p.columns.get(f, NOT_IMPORTED), allow_blank=False, compact=True, name=f
            )
            self._selects[f] = select
            name = Label(f, classes="preview-field-name", markup=False)
            rows.append(Horizontal(name, select, classes="preview-field"))
        grid.mount_all(rows)
        self._mapped_kind = p.kind

    def _set_mapping(self, p: ImportPreview) -> None:
        for f, select in self._selects.items():
            want = p.columns.get(f, NOT_IMPORTED)
            if select.value != want:
                select.value = want

    # -- the rep's choices -------------------------------------------------------------

    @on(Select.Changed)
    def _mapping_changed(self, event: Select.Changed) -> None:
        field = event.select.name
        if field is None or self._selects.get(field) is not event.select:
            return
        value = event.value
        column = None if value == NOT_IMPORTED or not isinstance(value, str) else value
        if self.preview.columns.get(field) == column:
            return  # the preview's own value (shown after a preview), not a choice
        try:
            mapping = self.preview.choose(field, column)
        except CrmError as exc:
            self.say(exc.message)
            return
        self.check(self.preview.kind, mapping)

    def check(self, kind: str, mapping: dict[str, str]) -> None:
        """Run the preview again with ``mapping`` (the answer replaces what is shown)."""
        self.generation += 1
        self.checking = True
        self.say("Checking the file with this mapping…")
        self.run_preview(kind, mapping, self.dayfirst, self.generation)

    @work(thread=True, exclusive=True, group="import-preview", exit_on_error=False)
    def run_preview(self, kind: str, mapping: dict[str, str], dayfirst: bool, generation: int) -> None:
        from crm_tui.io.preview import preview_import

        app: Any = self.app
        try:
            p = preview_import(
                app.db,
                kind,
                self.preview.path,
                mapping=mapping,
                encoding=self.encoding,
                dayfirst=dayfirst,
                now=app.clock(),
                user=app.services.user,
            )
        except CrmError as exc:
            self.post_message(self.Failed(exc.message, generation))
        except Exception as exc:  # noqa: BLE001 - shown to the rep rather than lost in a log
            self.post_message(self.Failed(f"the preview failed: {exc}", generation))
        else:
            self.post_message(self.Ready(p, generation))

    @on(Ready)
    def _ready(self, message: Ready) -> None:
        if message.generation != self.generation:
            return
        self.checking = False
        self.say("")
        self.show(message.preview)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        if message.generation != self.generation:
            return
        self.checking = False
        self.say(message.message, error=True)
        self._set_mapping(self.preview)  # back to the choices the preview shown was made with

    def say(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#preview-status", Static)
        status.update(Text(safe(message)))
        status.set_class(bool(message), "-shown")
        status.set_class(error, "-error")

    @on(DataTable.CellHighlighted)
    def _cell(self, event: DataTable.CellHighlighted) -> None:
        """The highlighted cell in full, and why it (or its row) would be rejected: the table cuts
        long cells and may be wider than the screen."""
        p = self.preview
        index = event.coordinate.row
        if not 0 <= index < len(p.rows):
            return
        row = p.rows[index]
        key = str(event.cell_key.column_key.value)
        cell = row.cells.get(key)
        text = Text(f"line {row.line}")
        if cell is not None:
            text.append(f" · {key} ← {safe(p.columns.get(key, ''))}: ")
            text.append(safe(cell.text) or "(blank)")
        if cell is not None and cell.problem:
            text.append(f"\nrejected: {safe(cell.problem)}")
        elif row.problem:
            text.append(f"\nrow rejected: {safe(row.problem)}")
        else:
            text.append(" · read as shown" if cell is None else "")
        self.query_one("#preview-cell", Static).update(text)

    # -- actions -----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "suggested_kind":
            return bool(self.preview.suggested_kind)
        return True

    @on(PreviewTable.Accepted)
    @on(Button.Pressed, "#preview-import")
    def action_import(self) -> None:
        if self.checking:
            self.say("Wait a moment: the file is being checked with the new mapping", error=True)
            return
        p = self.preview
        if p.result is None:
            self.say(f"Nothing to import: {p.problem}", error=True)
            return
        self.dismiss({"kind": p.kind, "mapping": dict(p.mapping), "dayfirst": self.dayfirst})

    @on(Button.Pressed, "#preview-back")
    def action_back(self) -> None:
        self.dismiss(None)

    def action_focus_mapping(self) -> None:
        first = next(iter(self._selects.values()), None)
        if first is not None:
            first.focus()

    def action_focus_rows(self) -> None:
        self.query_one("#preview-rows", DataTable).focus()

    def action_dayfirst(self) -> None:
        self.dayfirst = not self.dayfirst
        self.check(self.preview.kind, dict(self.preview.mapping))

    def action_suggested_kind(self) -> None:
        kind = self.preview.suggested_kind
        if kind:
            self.check(kind, {})
