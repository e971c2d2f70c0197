"""Modal forms with inline validation, and the deal form built on it.

A form shows one Input per field. Save runs ``save(values)`` (a services
call prepared by the screen) in a thread worker: on success the form closes
with the result; a ``CrmError`` is shown under the field it names, and what
was typed stays.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, Static

from crm_tui.errors import CrmError

# (key, label, placeholder)
FieldSpec = tuple[str, str, str]


class RecordFormScreen(ModalScreen[Any]):
    DEFAULT_CSS = """
    RecordFormScreen {
        align: center middle;
    }
    .rf-dialog {
        width: 64;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    .rf-title {
        text-style: bold;
        color: $primary;
    }
    .rf-label {
        color: $text-muted;
        margin-top: 0;
    }
    .rf-dialog Input {
        height: 1;
        border: none;
        background: $boost;
        padding: 0 1;
    }
    .rf-dialog Input:focus {
        background: $primary 25%;
    }
    .rf-error {
        display: none;
        color: $error;
    }
    .rf-error.shown {
        display: block;
    }
    .rf-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    .rf-buttons Button {
        margin-left: 1;
        min-width: 10;
    }
    """
    FIELDS: Sequence[FieldSpec] = ()
    #: ValidationError.field → form key, when they differ
    ERROR_FIELDS: dict[str, str] = {}
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel", tooltip="Close the form without saving"),
        Binding("ctrl+s", "save", "Save", id="form.save", tooltip="Save (enter in the last field also saves)"),
    ]

    def __init__(self, title: str, save: Callable[[dict], Any], *, values: dict | None = None,
                 suggesters: dict[str, Suggester] | None = None) -> None:
        super().__init__()
        self._title = title
        self._save = save
        self._values = values or {}
        self._suggesters = suggesters or {}
        self._busy = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="rf-dialog"):
            yield Label(Text(self._title), classes="rf-title")
            for key, label, placeholder in self.FIELDS:
                yield Label(label, classes="rf-label")
                yield Input(str(self._values.get(key, "") or ""), placeholder=placeholder, id=f"f-{key}",
                            suggester=self._suggesters.get(key))
                yield Static("", id=f"e-{key}", classes="rf-error")
            yield Static("", id="e-form", classes="rf-error")
            with Horizontal(classes="rf-buttons"):
                yield Button("Save", variant="primary", id="rf-save")
                yield Button("Cancel", id="rf-cancel")

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def values(self) -> dict[str, str]:
        return {key: self.query_one(f"#f-{key}", Input).value for key, _l, _p in self.FIELDS}

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.action_save()

    @on(Button.Pressed, "#rf-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#rf-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        if self._busy:
            return
        for error in self.query(".rf-error"):
            error.update("")
            error.remove_class("shown")
        self._busy = True
        self.run_worker(self._run_save(self.values()), exclusive=True, group="form-save")

    async def _run_save(self, values: dict) -> None:
        try:
            result = await asyncio.to_thread(self._save, values)
        except CrmError as exc:
            self._busy = False
            self.show_error(exc)
            return
        self._busy = False
        self.dismiss(result)

    def show_error(self, exc: CrmError) -> None:
        keys = [k for k, _l, _p in self.FIELDS]
        field = self.ERROR_FIELDS.get(exc.field or "", exc.field)
        target = f"#e-{field}" if field in keys else "#e-form"
        error = self.query_one(target, Static)
        error.update(Text(exc.message))
        error.add_class("shown")
        if field in keys:
            self.query_one(f"#f-{field}", Input).focus()


class CustomerSuggester(Suggester):
    """Completes a customer name from the database (prefix match, any case)."""

    def __init__(self, lookup: Callable[[str], list[tuple[int, str]]]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._lookup = lookup

    async def get_suggestion(self, value: str) -> str | None:
        if not value.strip():
            return None
        rows = await asyncio.to_thread(self._lookup, value)
        for _id, name in rows:
            if name.casefold().startswith(value.casefold()):
                return value + name[len(value):]
        return None


class DealFormScreen(RecordFormScreen):
    CSS_PATH = "deal_form.tcss"
    FIELDS = (
        ("title", "Title", "what is being sold"),
        ("customer", "Customer", "start typing a name; → accepts the suggestion"),
        ("amount", "Amount", "e.g. 12000 or 12,000.50"),
        ("owner", "Owner", "who works the deal"),
        ("expected_close", "Expected close", "YYYY-MM-DD (optional)"),
        ("probability", "Probability %", "blank: the stage's default"),
    )
    ERROR_FIELDS = {"expected close date": "expected_close", "customer_id": "customer"}
