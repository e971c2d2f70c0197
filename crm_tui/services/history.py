"""Undo and redo, from the change journal.

``undo()`` takes back this rep's last action that is in effect, whatever its kind and in
whichever session or run of the app it was made; ``redo()`` brings back the last one undone,
until the rep does something new. Both refuse, changing nothing, when a record the action
touched was changed since (another session, or a later action of someone else): the message
says what it holds now. An import is taken back and brought back as one action, with
set-based SQL (``journal.revert_bulk``).
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_tui import engines
from crm_tui import journal as jr
from crm_tui.errors import ValidationError
from crm_tui.services.base import ServiceBase


@dataclass(frozen=True)
class Undone:
    """What an undo or redo took back or brought back."""

    action: str  # the original action, in words: "win 'Rollout'"
    entry_id: int  # its journal entry
    record_table: str
    record_id: int | None


class HistoryOps(ServiceBase):
    def undo(self) -> Undone:
        """Take back this rep's last action in effect; ValidationError when there is none."""
        with self._write(set(), "undo") as session:
            lock = engines.lock_rows_for_write(session.connection().dialect)
            entry = jr.last_undoable(session, self.user, lock=lock)
            if entry is None or entry.id is None:
                raise ValidationError("nothing to undo: you have made no change yet (or undid them all)")
            if entry.kind == "home currency":  # services.currency.HOME_CHANGE: the home is not journaled
                raise ValidationError(
                    f"'{entry.action}' cannot be undone; change it back with `crm-tui rates home CODE` "
                    "(or h on the Currencies screen)"
                )
            self._say(session, f"undo {entry.action}", record=_record(entry))
            action = jr.declared(session)
            if action is not None:
                action.undoes = entry.id
            if entry.kind in jr.BULK_KINDS:
                jr.revert_bulk(session, entry.id, self.now(), lock=lock)
            else:
                jr.revert(session, jr.changes_of(session, entry.id), self.now(), lock=lock)
            entry.undone = True
            session.add(entry)
            return Undone(entry.action, entry.id, entry.record_table, entry.record_id)

    def redo(self) -> Undone:
        """Bring back the action this rep undid last, if they have done nothing new since."""
        with self._write(set(), "redo") as session:
            lock = engines.lock_rows_for_write(session.connection().dialect)
            found = jr.last_redoable(session, self.user)
            if found is None:
                raise ValidationError("nothing to redo: redo brings back what you undid, until you change something")
            entry, undo = found
            assert entry.id is not None and undo.id is not None
            self._say(session, f"redo {entry.action}", record=_record(entry))
            action = jr.declared(session)
            if action is not None:
                action.undoes = entry.id
            if entry.kind in jr.BULK_KINDS:  # its undo removed or restored as many records
                jr.revert_bulk(session, undo.id, self.now(), lock=lock)
            else:
                jr.revert(session, jr.changes_of(session, undo.id), self.now(), lock=lock)
            entry.undone = False
            session.add(entry)
            return Undone(entry.action, entry.id, entry.record_table, entry.record_id)

    def next_undo(self) -> str | None:
        """What ``undo()`` would take back now, in words (None: nothing)."""
        with self.db.read() as session:
            entry = jr.last_undoable(session, self.user)
            return entry.action if entry is not None else None


def _record(entry: jr.JournalEntry) -> tuple[str, int] | None:
    return (entry.record_table, entry.record_id) if entry.record_id is not None else None
