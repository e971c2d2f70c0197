"""Log a note (the interaction timeline) on a customer. Tasks use the one task form (``task_form``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from crm_tui import validate as v
from crm_tui.tui.modals.form import Field, FormScreen


class NoteForm(FormScreen):
    """``save({"note": text})`` adds the note and returns it. ``enter`` is a new line; ``ctrl+s`` saves."""

    def __init__(self, customer_name: str, save: Callable[[dict[str, Any]], Any], *, body: str | None = None) -> None:
        """``body``: the text of a note being edited (the title says so)."""
        super().__init__(
            f"Note on {customer_name}" if body is None else f"Edit note on {customer_name}",
            save,
            values=None if body is None else {"note": body},
            fields=(Field("note", "Note", kind="text"),),
            checks={"note": partial(v.text, field="note", required=True, max_len=v.MAX_TEXT, multiline=True)},
        )
