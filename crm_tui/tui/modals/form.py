"""The one modal form base: checks every field, saves through a service call, never hangs.

``FormScreen(title, save, values=..., fields=..., suggesters=..., version=..., checks=...)``:
``save`` is the screen's call into a service; it runs in a thread worker.

Keys: ``ctrl+s`` saves from anywhere; ``enter`` in a one-line field goes to the
next field, and on the last field saves; a multi-line field keeps ``enter`` for
new lines. ``escape`` closes an unchanged form at once and asks before dropping
a changed one. Keys typed before the form had focus land in its first field
(``EarlyKeysModal``).

Errors:

- Before saving, every field's check (``checks()``: the validators of
  ``crm_tui.validate``, so the messages match the services') runs, and *every*
  failure is shown under its field at once. A shown error is checked again as its
  field changes and disappears when it is fixed.
- A ``ValidationErrors`` / ``ValidationError`` from ``save`` shows under the fields
  it names (``ERROR_FIELDS`` translates service names), else under the form.
- A ``ConflictError`` (the record changed in another session) shows the stored
  values that differ from what was typed and adopts the stored version, so saving
  again replaces them knowingly.
- Anything else (a database error, a bug) shows "Could not save: <Type>: <message>".
  In every case the form stays open with what was typed, and can be saved again.

A form editing a versioned record passes ``version=`` and its ``save`` takes
``(values, expected_version)``; every other ``save`` takes ``(values)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.text import Text
from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import var
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from crm_tui.errors import ConflictError, CrmError, ValidationErrors
from crm_tui.tui.literal import literal, safe
from crm_tui.tui.modals.confirm import ConfirmScreen
from crm_tui.tui.modals.early_keys import EarlyKeysModal
from crm_tui.validate import Check, check_all

#: the narrowest label column; longer labels widen it for the whole form
MIN_LABEL_WIDTH = 11
#: the key of a message that belongs to the whole form, not to one field
FORM = ""


@dataclass(frozen=True)
class Field:
    name: str  # the form's key (and usually the service's field name)
    label: str
    kind: str = "input"  # "input", "select" or "text" (multi-line)
    options: tuple[str, ...] = ()
    placeholder: str = ""


def app_now(app: object) -> dt.datetime:
    """The app's clock (frozen in tests), else the system's, as an aware UTC datetime."""
    clock = getattr(app, "clock", None)
    return clock() if callable(clock) else dt.datetime.now(dt.UTC)


def customer_lookups(app: object, filled_in: object = None) -> dict[str, Check]:
    """The check of a form's "customer" field against the database (a name must name one customer).

    The name the opening page filled in (``filled_in``: its own customer) is not looked up again.
    """
    from crm_tui.queries.pipeline import resolve_customer

    db = getattr(app, "db", None)
    if db is None:
        return {}
    unchanged = str(filled_in or "").strip().casefold()

    def check(value: object) -> object:
        name = str(value or "").strip()
        return None if unchanged and name.casefold() == unchanged else resolve_customer(db, name)

    return {"customer": check}


def unexpected_message(exc: BaseException) -> str:
    """One line for a failure nobody planned for: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    first = safe(lines[0])[:200] if lines else ""
    return f"Could not save: {type(exc).__name__}: {first}" if first else f"Could not save: {type(exc).__name__}"


class FormScreen(EarlyKeysModal[Any]):
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
        &.-dirty #form-title { color: $warning; }
        &.-saving #form-keys { color: $text; }
    }
    """

    BINDINGS = [
        Binding(
            "ctrl+s",
            "save",
            "Save",
            id="form.save",
            tooltip="Save this form (enter on the last field saves too)",
        ),
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="form.cancel",
            tooltip="Close the form; asks first when something was typed",
        ),
        # Priority bindings run when the app takes the key from its queue, before it hands the
        # next keys on: "Acme<tab>fri" typed in one burst puts "fri" in the next field. (The
        # default tab binding and Input's enter act only once the key has bubbled back up, after
        # the app has given the following keys to the field that had focus.)
        Binding("tab", "move_field(1)", "Next field", show=False, priority=True, id="form.next_field",
                tooltip="Go to the next field"),
        Binding("shift+tab", "move_field(-1)", "Previous field", show=False, priority=True,
                id="form.previous_field", tooltip="Go to the previous field"),
        Binding("enter", "enter_field", "Next field", show=False, priority=True, id="form.enter",
                tooltip="In a one-line field: go to the next field, or save on the last one"),
    ]  # fmt: skip

    #: the fields, when a subclass has a fixed set (``fields=`` overrides)
    FIELDS: Sequence[Field] = ()
    #: ValidationError.field → form field name, when the service names it differently
    ERROR_FIELDS: dict[str, str] = {}

    #: a save is running in a worker: the Save button is off and the key line says so
    saving: var[bool] = var(False)
    #: the values differ from what the form opened with: escape asks first
    dirty: var[bool] = var(False)
    #: the messages shown: field name → message (``FORM`` for the whole form)
    errors: var[dict[str, str]] = var(dict)

    def __init__(
        self,
        title: str,
        save: Callable[..., Any],
        *,
        values: dict[str, Any] | None = None,
        fields: Sequence[Field] | None = None,
        suggesters: dict[str, Suggester] | None = None,
        version: int | None = None,
        checks: Mapping[str, Check] | None = None,
    ) -> None:
        super().__init__()
        self.form_title = title
        self.fields = list(self.FIELDS if fields is None else fields)
        self.initial = dict(values or {})
        self.suggesters = dict(suggesters or {})
        self.versioned = version is not None
        self.expected_version = version
        self._save = save
        self._checks = dict(checks or {})
        self._opened_with: dict[str, Any] = {}

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        width = max([MIN_LABEL_WIDTH] + [len(f.label) + 2 for f in self.fields])
        with Vertical(id="form-box"):
            yield Label(literal(self.form_title), id="form-title")
            with VerticalScroll(id="form-fields", can_focus=False):
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
                yield Static(self._keys_hint(), id="form-keys", markup=False)
                yield Button("Save", id="form-save", variant="primary")
                yield Button("Cancel", id="form-cancel")

    def _widget(self, f: Field) -> Widget:
        value = self.initial.get(f.name)
        wid = f"field-{f.name}"
        if f.kind == "select":
            options = [(o, o) for o in f.options]
            if value in f.options:
                return Select(options, value=value, allow_blank=False, id=wid, compact=True)
            return Select(options, allow_blank=not f.options, id=wid, compact=True)
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
        self._opened_with = self.values()

    def field_widget(self, name: str) -> Widget:
        return self.query_one(f"#field-{name}")

    def first_focus(self) -> Widget | None:
        return self.field_widget(self.fields[0].name) if self.fields else None

    # -- keys ---------------------------------------------------------------------------

    def _keys_hint(self) -> str:
        if self.saving:
            return "Saving…"
        moves = "enter next · " if any(f.kind == "input" for f in self.fields[:-1]) else ""
        escape = "esc discard…" if self.dirty else "esc cancel"
        return f"{moves}ctrl+s save · {escape}"

    def _field_index(self, widget: Widget | None) -> int | None:
        for index, f in enumerate(self.fields):
            if widget is not None and widget.id == f"field-{f.name}":
                return index
        return None

    def _in_select_menu(self) -> bool:
        """A select's open menu has the keys (its own enter picks, tab closes it): the menu is
        the focused widget inside a Select."""
        focused = self.focused
        return focused is not None and not isinstance(focused, Select) and isinstance(focused.parent, Select)

    def action_move_field(self, step: int) -> None:
        if self._in_select_menu():
            raise SkipAction()
        if step > 0:
            self.focus_next()
        else:
            self.focus_previous()

    def action_enter_field(self) -> None:
        """Enter in a one-line field moves on (or saves on the last); elsewhere it does what it does
        there (a new line in a note, opens a select, presses a button)."""
        focused = self.focused
        index = self._field_index(focused) if isinstance(focused, Input) else None
        if index is None or focused is None:
            raise SkipAction()
        if index == len(self.fields) - 1:
            # This binding runs when the app takes enter from its queue; letters typed just before
            # it in the same burst may still wait in the field's queue. Save behind them.
            focused.call_later(self.action_save)
        else:
            self.set_focus(self.field_widget(self.fields[index + 1].name))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter in a one-line field: the next field, or save on the last one."""
        event.stop()
        index = self._field_index(event.input)
        if index is None or index == len(self.fields) - 1:
            self.action_save()
        else:
            self.set_focus(self.field_widget(self.fields[index + 1].name))

    def replay(self, keys: Sequence[events.Key]) -> None:
        """Early keys: typed into the first field; enter and tab move on to the next one-line field, as they would."""
        for position, key in enumerate(keys):
            widget = self.focused
            at = self._field_index(widget)
            if isinstance(widget, Input) and at is not None:
                if key.is_printable:
                    widget.post_message(self.again(key))
                    continue
                if key.key in ("enter", "tab") and at + 1 < len(self.fields):
                    self.set_focus(self.field_widget(self.fields[at + 1].name))
                    continue
            super().replay(keys[position:])
            return

    # -- values and errors --------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.fields:
            widget = self.field_widget(f.name)
            if isinstance(widget, Select):
                out[f.name] = widget.selection
            elif isinstance(widget, TextArea):
                out[f.name] = widget.text
            elif isinstance(widget, Input):
                out[f.name] = widget.value
        return out

    def checks(self) -> Mapping[str, Check]:
        """Each field's check, run on the typed values before saving; subclasses add theirs."""
        return self._checks

    def _form_field(self, name: str) -> str:
        """A service's field name → this form's field name, or ``FORM`` when the form has no such field."""
        name = self.ERROR_FIELDS.get(name, name)
        return name if any(f.name == name for f in self.fields) else FORM

    def show_errors(self, errors: Mapping[str, str], *, focus: bool = True) -> None:
        """Show every message under its field (service names translated) and focus the first such field."""
        shown: dict[str, str] = {}
        for name, message in errors.items():
            key = self._form_field(name)
            shown[key] = f"{shown[key]}\n{message}" if key in shown else message
        self.errors = shown
        if focus:
            first = next((f.name for f in self.fields if f.name in shown), None)
            if first is not None:
                self.set_focus(self.field_widget(first))

    def show_error(self, message: str, field: str | None = None) -> None:
        """One message under ``field`` (a form or service field name), else under the form."""
        self.show_errors({field or FORM: message})

    def clear_errors(self) -> None:
        self.errors = {}

    def watch_errors(self, errors: dict[str, str]) -> None:
        for f in self.fields:
            self._show(self.query_one(f"#error-{f.name}", Static), errors.get(f.name))
        self._show(self.query_one("#form-error", Static), errors.get(FORM))

    @staticmethod
    def _show(target: Static, message: str | None) -> None:
        target.update(Text(message or ""))
        target.set_class(bool(message), "-shown")
        if message:
            target.scroll_visible()

    @on(Input.Changed)
    @on(Select.Changed)
    @on(TextArea.Changed)
    def _changed(self, event: Input.Changed | Select.Changed | TextArea.Changed) -> None:
        """A field changed: is the form still as it opened, and is its shown error fixed?"""
        if not self.is_mounted or not self._opened_with:
            return
        values = self.values()
        self.dirty = values != self._opened_with
        index = self._field_index(event.control)
        if index is None:
            return
        name = self.fields[index].name
        if name not in self.errors:
            return
        errors = dict(self.errors)
        check = self.checks().get(name)
        if check is None:
            del errors[name]  # a service's message: the rep is fixing it; saving checks again
        else:
            _, now = check_all(values, {name: check})
            if name in now:
                errors[name] = now[name]
            else:
                del errors[name]
        self.errors = errors

    def watch_dirty(self, dirty: bool) -> None:
        self.set_class(dirty, "-dirty")
        self._update_hint()

    def watch_saving(self, saving: bool) -> None:
        self.set_class(saving, "-saving")
        if self.is_mounted:
            self.query_one("#form-save", Button).disabled = saving
        self._update_hint()

    def _update_hint(self) -> None:
        if self.is_mounted:
            self.query_one("#form-keys", Static).update(self._keys_hint())

    # -- conflicts ----------------------------------------------------------------------

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
        self.show_errors({FORM: message + "\n" + note + "\nSave again to replace them with yours."})

    # -- saving -------------------------------------------------------------------------

    def lookups(self) -> Mapping[str, Check]:
        """Checks that read the database (a customer named by name); they run in the save worker."""
        return {}

    @on(Button.Pressed, "#form-save")
    def action_save(self) -> None:
        if self.saving:
            return
        values = self.values()
        cleaned, errors = check_all(values, self.checks())
        lookups = self.lookups()
        if errors and not lookups:
            self.show_errors(dict(errors))
            return
        self.saving = True
        work = partial(self._run_save, values, cleaned, errors, lookups)
        self.run_worker(work, thread=True, group="form-save", exit_on_error=False)

    def prepared(self, values: dict[str, Any], cleaned: Mapping[str, object]) -> dict[str, Any]:
        """What ``save`` gets: the typed values; subclasses swap in checked ones (a natural date → ISO)."""
        return values

    def _run_save(
        self,
        values: dict[str, Any],
        cleaned: Mapping[str, object],
        errors: Mapping[str, str],
        lookups: Mapping[str, Check],
    ) -> None:
        """In the worker thread: every outcome goes back to the form, whatever was raised."""
        try:
            _, found = check_all(values, lookups)
            if errors or found:
                self._back(partial(self._refused, {**errors, **found}))
                return
            values = self.prepared(values, cleaned)
            result = self._save(values, self.expected_version) if self.versioned else self._save(values)
        except ConflictError as exc:
            self._back(partial(self._conflict, exc.message, exc.current))
        except ValidationErrors as exc:
            self._back(partial(self._refused, dict(exc.errors)))
        except CrmError as exc:
            self._back(partial(self._refused, {exc.field or FORM: exc.message}))
        except Exception as exc:  # noqa: BLE001 - any failure must re-enable the form and say why
            self.log.error(f"saving {self.form_title!r} failed", exc)  # to the devtools console, not the terminal
            self._back(partial(self._refused, {FORM: unexpected_message(exc)}))
        else:
            self._back(partial(self._saved, result))

    def _back(self, callback: Callable[[], None]) -> None:
        try:
            self.app.call_from_thread(callback)
        except RuntimeError:  # the app has closed meanwhile: nobody to tell
            pass

    def _saved(self, result: Any) -> None:
        self.saving = False
        if self.is_attached:
            self.dismiss(result)

    def _refused(self, errors: Mapping[str, str]) -> None:
        self.saving = False
        self.show_errors(errors)

    def _conflict(self, message: str, current: dict[str, Any]) -> None:
        self.saving = False
        self.on_conflict(message, current)

    # -- closing ------------------------------------------------------------------------

    @on(Button.Pressed, "#form-cancel")
    def action_cancel(self) -> None:
        if not self.dirty:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen(
                "Discard your changes?",
                f"What you typed in '{self.form_title}' will be lost.",
                confirm_label="Discard",
                cancel_label="Keep editing",
            ),
            answered,
        )
