"""The change journal: every committed action, who did it, what it changed, how to take it back.

A service declares what it is doing (``Action``: "win 'Rollout'") on its write session; while the
session flushes, every ORM row it inserts, updates or deletes is captured (``capture``); just before
the commit ``Database.write`` stores one ``journal`` row and one ``journal_change`` row per record
(``write_entry``) — in the same transaction, so a change and its journal row are both there or both
absent, whatever happens to the process.

The journal is the one source of undo and redo: ``revert`` applies an entry's changes backwards,
after checking that every record still holds what the entry left (a record changed since, by
another session or another action, refuses the whole undo and says what it holds now). An undo is
itself an entry (kind "undo", ``undoes`` the entry it took back); a redo reverts that undo.

An import writes its records with set-based SQL, not through the ORM, so it journals them the
same way: its entry is opened first (``open_entry``) and its records go to journal_change with
``INSERT … SELECT``; such entries (``BULK_KINDS``) are taken back by ``revert_bulk``.

No textual import; values are stored as JSON (datetimes as ISO text in UTC, dates as ISO text).

This module is the journal's one door: two modules hold it, and every name of theirs is
reachable here as ``journal.<name>``:

- ``crm_tui.journal_entries``: actions and changes, capturing them, writing an entry, the JSON
  values, reading an entry's changes back;
- ``crm_tui.journal_undo``: undo and redo (which entry they take, ``revert``, ``revert_bulk``).
"""

from __future__ import annotations

from crm_tui.journal_entries import BOOKKEEPING as BOOKKEEPING
from crm_tui.journal_entries import NOT_JOURNALED as NOT_JOURNALED
from crm_tui.journal_entries import UNDO_KINDS as UNDO_KINDS
from crm_tui.journal_entries import Action as Action
from crm_tui.journal_entries import Change as Change
from crm_tui.journal_entries import Row as Row
from crm_tui.journal_entries import StoredChange as StoredChange
from crm_tui.journal_entries import bulk_tables as bulk_tables
from crm_tui.journal_entries import capture as capture
from crm_tui.journal_entries import captured as captured
from crm_tui.journal_entries import changes_of as changes_of
from crm_tui.journal_entries import declare as declare
from crm_tui.journal_entries import declared as declared
from crm_tui.journal_entries import decode as decode
from crm_tui.journal_entries import encode as encode
from crm_tui.journal_entries import entries_about as entries_about
from crm_tui.journal_entries import insert_changes as insert_changes
from crm_tui.journal_entries import model_of as model_of
from crm_tui.journal_entries import open_entry as open_entry
from crm_tui.journal_entries import snapshot as snapshot
from crm_tui.journal_entries import write_entry as write_entry
from crm_tui.journal_undo import BULK_KINDS as BULK_KINDS
from crm_tui.journal_undo import last_redoable as last_redoable
from crm_tui.journal_undo import last_undoable as last_undoable
from crm_tui.journal_undo import revert as revert
from crm_tui.journal_undo import revert_bulk as revert_bulk
from crm_tui.models import JournalEntry

__all__ = ["Action", "JournalEntry", "revert"]
