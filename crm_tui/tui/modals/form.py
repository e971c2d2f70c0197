"""The one modal form base: saves through a service call and validates inline.

``FormScreen(title, save, values=..., fields=..., suggesters=..., version=...)``:
``save`` is the screen's call into a service; it runs in a thread worker.

- A ``ValidationError`` shows its message under the field it names
  (``error.field``, translated through ``ERROR_FIELDS`` when the service's
  name differs from the form's) and focuses that field; everything typed stays.
- A ``ConflictError`` (the record changed in another session) shows the
  message and the stored values that differ from what was typed, and adopts
  the stored version, so saving again replaces them knowingly.
- On success the form is dismissed with what ``save`` returned.

A form editing a versioned record passes ``version=`` and its ``save`` takes
``(values, expected_version)``; every other ``save`` takes ``(values)``.
Enter in a one-line field or ctrl+s saves; escape cancels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from crm_tui.tui.literal import literal

#: the narrowest label column; longer labels widen it for the whole form
MIN_LABEL_WIDTH = 11


@dataclass(frozen=True)
class Field:
    name: str  # the form's key (and usually the service's field name)
    label: str
    kind: str = "input"  # "input", "select" or "text" (multi-line)
    options: tuple[str, ...] = ()
    placeholder: str = ""


class FormScreen(ModalScreen[Any]):
    DEFAULT_CSS = """
    FormScreen {
        align: center middle;
        & > #form-box {
            width: 72;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: thick $primary;
            background: $surface;
            padding: 0 1;
        }
        & #form-title { text-style: bold; width: 1fr; margin-bottom: 1; }
        & #form-fields { height: auto; max-height: 1fr; }
        & .form-row { height: auto; }
        & .form-label { padding-right: 1; color: $text-muted; }
        & .form-row Input, & .form-row Select { width: 1fr; }
        & .form-row TextArea { width: 1fr; height: 6; }
        & .field-error { color: $error; display: none; }
        & .field-error.-shown { display: block; }
        & #form-error { color: $error; display: none; margin-top: 1; }
        & #form-error.-shown { display: block; }
        & #form-buttons { height: auto; align-horizontal: right; margin-top: 1; }
        & #form-buttons Button { margin-left: 1; min-width: 10; }
        & #form-keys { width: 1fr; height: 3; content-align: left middle; color: $text-muted; }
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="form.save", tooltip="Save this form (enter in a field also saves)"),
        Binding("escape", "cancel", "Cancel", id="form.cancel", tooltip="Close without saving"),
    ]

    #: the fields, when a subclass has a fixed set (``fields=`` overrides)
    FIELDS: Sequence[Field] = ()
    #: ValidationError.field → form field name, when the service names it differently
    ERROR_FIELDS: dict[str, str] = {}

    def __init__(
        self,
        title: str,
        save: Callable[..., Any],
        *,
        values: dict[str, Any] | None = None,
        fields: Sequence[Field] | None = None,
        suggesters: dict[str, Suggester] | None = None,
        version: int | None = None,
    ) -> None:
        super().__init__()
        self.form_title = title
        self.fields = list(self.FIELDS if fields is None else fields)
        self.initial = dict(values or {})
        self.suggesters = dict(suggesters or {})
        self.versioned = version is not None
        self.expected_version = version
        self._save = save
        self._saving = False

    def compose(self) -> ComposeResult:
        width = max([MIN_LABEL_WIDTH] + [len(f.label) + 2 for f in self.fields])
        with Vertical(id="form-box"):
            yield Label(literal(self.form_title), id="form-title")
            with VerticalScroll(id="form-fields"):
                for f in self.fields:
                    with Horizontal(classes="form-row"):
                        label = Label(f.label, classes="form-label")
                        label.styles.width = width
                        yield label
                        yield self._widget(f)
                    error = Static("", id=f"error-{f.name}", classes="field-error", markup=False)
                    error.styles.padding = (0, 0, 0, width)
                    yield error
            yield Static("", id="form-error", markup=False)
            with Horizontal(id="form-buttons"):
                yield Static("ctrl+s save · esc cancel", id="form-keys")
                yield Button("Save", id="form-save", variant="primary")
                yield Button("Cancel", id="form-cancel")

    def _widget(self, f: Field):
        value = self.initial.get(f.name)
        wid = f"field-{f.name}"
        if f.kind == "select":
            current = value if value in f.options else (f.options[0] if f.options else Select.BLANK)
            return Select([(o, o) for o in f.options], value=current, allow_blank=False, id=wid, compact=True)
        if f.kind == "text":
            return TextArea("" if value is None else str(value), id=wid, soft_wrap=True, show_line_numbers=False)
        return Input(
            "" if value is None else str(value),
            placeholder=f.placeholder,
            id=wid,
            compact=True,
            suggester=self.suggesters.get(f.name),
        )

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#field-{self.fields[0].name}").focus()

    # -- values and errors --------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.fields:
            widget = self.query_one(f"#field-{f.name}")
            if isinstance(widget, Select):
                out[f.name] = None if widget.value is Select.BLANK else widget.value
            elif isinstance(widget, TextArea):
                out[f.name] = widget.text
            else:
                out[f.name] = widget.value
        return out

    def clear_errors(self) -> None:
        for widget in self.query(".field-error, #form-error"):
            widget.update("")
            widget.remove_class("-shown")

    def show_error(self, message: str, field: str | None = None) -> None:
        """``message`` under ``field`` (a form or service field name), else under the form."""
        field = self.ERROR_FIELDS.get(field or "", field)
        target = None
        if field and self.query(f"#error-{field}"):
            target = self.query_one(f"#error-{field}", Static)
            self.query_one(f"#field-{field}").focus()
        if target is None:
            target = self.query_one("#form-error", Static)
        target.update(Text(message))
        target.add_class("-shown")
        target.scroll_visible()

    def shown_current(self, current: dict[str, Any]) -> dict[str, Any]:
        """Stored values (a model dump) as form text; subclasses convert what differs."""
        return current

    def on_conflict(self, message: str, current: dict[str, Any]) -> None:
        """The record changed elsewhere: show what is stored now and adopt its version."""
        if self.versioned and current.get("version") is not None:
            self.expected_version = current["version"]
        stored = self.shown_current(current)
        typed = self.values()
        changed = [
            f"{f.label}: {stored.get(f.name)!s}"
            for f in self.fields
            if f.name in stored and str(stored.get(f.name) or "") != str(typed.get(f.name) or "")
        ]
        note = "Now stored — " + "; ".join(changed) if changed else "The stored values match what you typed."
        self.show_error(message + "\n" + note + "\nSave again to replace them with yours.")

    # -- saving -------------------------------------------------------------------------

    @on(Button.Pressed, "#form-save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        if self._saving:
            return
        self._saving = True
        self.clear_errors()
        self.query_one("#form-save", Button).disabled = True
        values = self.values()
        self.run_worker(lambda: self._run_save(values), thread=True, group="form-save", exit_on_error=False)

    def _run_save(self, values: dict[str, Any]) -> None:
        from crm_tui.errors import ConflictError, CrmError

        try:
            result = self._save(values, self.expected_version) if self.versioned else self._save(values)
        except ConflictError as exc:
            self.app.call_from_thread(self._failed, exc, exc.current)
            return
        except CrmError as exc:
            self.app.call_from_thread(self._failed, exc, None)
            return
        self.app.call_from_thread(self.dismiss, result)

    def _failed(self, exc, conflict: dict | None) -> None:
        self._saving = False
        self.query_one("#form-save", Button).disabled = False
        if conflict is not None:
            self.on_conflict(exc.message, conflict)
        else:
            self.show_error(exc.message, exc.field)

    @on(Button.Pressed, "#form-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
