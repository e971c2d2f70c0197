"""Editing and deleting notes, the same from the customer page and the deal page: the notes picker
(``N``) lists them, the note form edits one (refused when the note changed elsewhere since), a
question comes before a delete; every change is one journal entry (``ctrl+z``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crm_tui.tui.literal import safe

if TYPE_CHECKING:
    from crm_tui.queries.customer_detail import NoteLine
    from crm_tui.tui.screens.base import CrmScreen


def open_notes(screen: CrmScreen, about: str, notes: Sequence[NoteLine]) -> None:
    """The picker over ``notes`` (of ``about``: a customer's or a deal's name); then the chosen change."""
    from crm_tui.tui.modals.notes_picker import NotesPicker

    if not notes:
        screen.notify("No notes yet — n adds one", timeout=3, markup=False)
        return

    def picked(choice: tuple[str, NoteLine] | None) -> None:
        if choice is not None:
            (edit_note if choice[0] == "edit" else delete_note)(screen, about, choice[1])

    screen.app.push_screen(NotesPicker(about, notes), picked)


def edit_note(screen: CrmScreen, about: str, note: NoteLine) -> None:
    from crm_tui.tui.modals.note_form import NoteForm

    services = screen.app.services
    if services is None:
        return

    def save(values: dict[str, Any]) -> Any:
        return services.update_note(note.id, values["note"], expected_body=note.body)

    screen.app.push_screen(
        NoteForm(about, save, body=note.body), screen.said_when_saved("Note saved (ctrl+z takes it back)")
    )


def delete_note(screen: CrmScreen, about: str, note: NoteLine) -> None:
    from crm_tui.tui.modals.confirm import ConfirmScreen
    from crm_tui.tui.modals.notes_picker import note_label

    services = screen.app.services
    if services is None:
        return

    def answered(yes: bool | None) -> None:
        if yes:
            screen.run_service(
                lambda: services.delete_note(note.id), success="Deleted the note — ctrl+z brings it back"
            )

    detail = f"{note_label(note, width=40).plain}\nctrl+z brings it back."
    screen.app.push_screen(ConfirmScreen(f"Delete this note on {safe(about)}?", detail), answered)
