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

No textual import; values are stored as JSON (datetimes as ISO text in UTC, dates as ISO text).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Date, event, func, insert, inspect, select
from sqlmodel import Session, SQLModel

from crm_tui.errors import ConflictError
from crm_tui.models import JournalChange, JournalEntry, UTCDateTime

__all__ = ["Action", "JournalEntry", "revert"]

#: tables whose rows are facts about the database or the journal itself, never journaled
NOT_JOURNALED = frozenset({"journal", "journal_change", "change_log", "crm_meta"})
#: bookkeeping columns an undo moves forward instead of back (an undo is a new change)
BOOKKEEPING = ("version", "updated_at")
#: kinds of entries that take back or bring back another entry
UNDO_KINDS = ("undo", "redo")

_ACTION = "crm_journal_action"
_CHANGES = "crm_journal_changes"

Row = dict[str, Any]


@dataclass
class Action:
    """What a write does, in the rep's words, declared by the service that runs it.

    ``label`` may be filled in once the record is loaded ("win 'Rollout'"); ``record`` names the
    record the action is about when it is not the first one changed."""

    kind: str
    label: str = ""
    who: str = ""
    at: dt.datetime | None = None
    record: tuple[str, int] | None = None
    undoes: int | None = None


@dataclass
class Change:
    """One record's net change within a transaction (several flushes folded into one)."""

    table: str
    record_id: int
    op: str  # insert, update, delete
    before: Row | None = None
    after: Row | None = None
    context: dict[str, int | None] = field(default_factory=dict)  # its deal_id / customer_id


# -- declaring and capturing ---------------------------------------------------------------------


def declare(session: Session, action: Action) -> Action:
    """Say what this write session does; its changes are journaled under ``action``."""
    session.info[_ACTION] = action
    return action


def declared(session: Session) -> Action | None:
    action = session.info.get(_ACTION)
    return action if isinstance(action, Action) else None


def capture(session: Session) -> None:
    """Collect, at every flush of ``session``, the rows it inserts, updates and deletes."""
    session.info[_CHANGES] = {}
    event.listen(session, "after_flush", _collect)


def captured(session: Session) -> list[Change]:
    changes = session.info.get(_CHANGES)
    return list(changes.values()) if isinstance(changes, dict) else []


def _collect(session: Session, _context: object) -> None:
    """After a flush (the session still lists what it flushed, with each attribute's history)."""
    changes: dict[tuple[str, int], Change] = session.info[_CHANGES]
    for obj in session.new:
        table = _table_of(obj)
        if table is not None:
            _fold(changes, Change(table, _pk(obj), "insert", None, snapshot(obj), _context_of(obj)))
    for obj in session.dirty:
        table = _table_of(obj)
        if table is None or not session.is_modified(obj, include_collections=False):
            continue
        before: Row = {}
        after: Row = {}
        state = inspect(obj)
        for attr in state.mapper.column_attrs:
            history = state.attrs[attr.key].history
            if history.has_changes():
                before[attr.key] = history.deleted[0] if history.deleted else None
                after[attr.key] = history.added[0] if history.added else None
        if after:
            _fold(changes, Change(table, _pk(obj), "update", before, after, _context_of(obj)))
    for obj in session.deleted:
        table = _table_of(obj)
        if table is not None:
            _fold(changes, Change(table, _pk(obj), "delete", snapshot(obj), None, _context_of(obj)))


def _fold(changes: dict[tuple[str, int], Change], new: Change) -> None:
    """Fold one flush's change of a record into what the transaction did to it so far."""
    key = (new.table, new.record_id)
    old = changes.get(key)
    if old is None:
        changes[key] = new
        return
    if old.op == "insert" and new.op == "update":
        old.after = {**(old.after or {}), **(new.after or {})}
    elif old.op == "insert" and new.op == "delete":
        del changes[key]  # made and gone in one transaction: nothing happened
    elif old.op == "update" and new.op == "update":
        old.before = {**(new.before or {}), **(old.before or {})}  # the first old value wins
        old.after = {**(old.after or {}), **(new.after or {})}
    elif old.op == "update" and new.op == "delete":
        changes[key] = Change(new.table, new.record_id, "delete", {**(new.before or {}), **(old.before or {})})
    elif old.op == "delete" and new.op == "insert":
        changes[key] = Change(new.table, new.record_id, "update", old.before, new.after, new.context)
    else:
        changes[key] = new
    changes[key].context = {**old.context, **{k: v for k, v in new.context.items() if v is not None}}


def _table_of(obj: object) -> str | None:
    table = getattr(obj, "__tablename__", None)
    return table if isinstance(table, str) and table not in NOT_JOURNALED else None


def _pk(obj: object) -> int:
    return int(inspect(obj).mapper.primary_key_from_instance(obj)[0])


def _context_of(obj: object) -> dict[str, int | None]:
    table = _table_of(obj)
    if table == "deal":
        return {"deal_id": _pk(obj), "customer_id": getattr(obj, "customer_id", None)}
    if table == "customer":
        return {"customer_id": _pk(obj)}
    return {k: getattr(obj, k) for k in ("deal_id", "customer_id") if hasattr(obj, k)}


def snapshot(obj: object) -> Row:
    """Every column of a row, as Python values."""
    state = inspect(obj)
    return {attr.key: getattr(obj, attr.key) for attr in state.mapper.column_attrs}


# -- writing an entry ----------------------------------------------------------------------------


def write_entry(session: Session, action: Action | None, changes: list[Change]) -> int | None:
    """Store ``action`` and ``changes`` as one journal entry (in the session's transaction).

    Nothing is written when nothing changed and no action was declared. Returns the entry id."""
    if action is None and not changes:
        return None
    if action is None:
        first = changes[0]
        action = Action("change", f"{first.op} {first.table.replace('_', ' ')} #{first.record_id}")
    record = action.record
    if record is None and changes:
        record = (changes[0].table, changes[0].record_id)
    deals = {c.context.get("deal_id") for c in changes if c.context.get("deal_id") is not None}
    customers = {c.context.get("customer_id") for c in changes if c.context.get("customer_id") is not None}
    entry = JournalEntry(
        at=action.at or dt.datetime.now(dt.UTC),
        who=action.who,
        kind=action.kind,
        action=action.label or action.kind,
        record_table=record[0] if record else "",
        record_id=record[1] if record else None,
        deal_id=next(iter(deals)) if len(deals) == 1 else None,
        customer_id=next(iter(customers)) if len(customers) == 1 else None,
        undoes=action.undoes,
    )
    session.add(entry)
    session.flush()
    assert entry.id is not None
    if changes:
        session.connection().execute(
            insert(JournalChange),
            [
                {
                    "entry_id": entry.id,
                    "table_name": c.table,
                    "record_id": c.record_id,
                    "op": c.op,
                    "before": encode(c.before),
                    "after": encode(c.after),
                }
                for c in changes
            ],
        )
    return entry.id


def encode(values: Mapping[str, Any] | None) -> str | None:
    if values is None:
        return None
    return json.dumps({k: _plain(v) for k, v in values.items()}, ensure_ascii=False, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def decode(table: str, text: str | None) -> Row | None:
    """JSON values back to what the model's columns hold (datetimes, dates)."""
    if text is None:
        return None
    raw = json.loads(text)
    columns = model_of(table).__table__.columns
    out: Row = {}
    for key, value in raw.items():
        kind = columns[key].type if key in columns else None
        if value is not None and isinstance(kind, UTCDateTime):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and isinstance(kind, Date):
            value = dt.date.fromisoformat(value)
        out[key] = value
    return out


_MODELS: dict[str, type[SQLModel]] = {}


def model_of(table: str) -> type[SQLModel]:
    """The model class of a table name."""
    if not _MODELS:
        from sqlmodel.main import default_registry

        for mapper in default_registry.mappers:
            _MODELS[mapper.local_table.name] = mapper.class_
    return _MODELS[table]


# -- reading entries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredChange:
    table: str
    record_id: int
    op: str
    before: Row | None
    after: Row | None


def changes_of(session: Session, entry_id: int) -> list[StoredChange]:
    rows = session.connection().execute(
        select(
            JournalChange.table_name,
            JournalChange.record_id,
            JournalChange.op,
            JournalChange.before,
            JournalChange.after,
        )
        .where(JournalChange.entry_id == entry_id)
        .order_by(JournalChange.id)
    )
    return [StoredChange(t, i, op, decode(t, b), decode(t, a)) for t, i, op, b, a in rows]


def last_undoable(session: Session, who: str, *, lock: bool = False) -> JournalEntry | None:
    """``who``'s latest action that is in effect (not an undo or redo, not undone)."""
    query = (
        select(JournalEntry)
        .where(JournalEntry.who == who, JournalEntry.kind.not_in(UNDO_KINDS), JournalEntry.undone.is_(False))
        .order_by(JournalEntry.id.desc())
        .limit(1)
    )
    return session.scalars(query.with_for_update() if lock else query).first()


def last_redoable(session: Session, who: str) -> tuple[JournalEntry, JournalEntry] | None:
    """(entry, the undo that took it back) that ``who`` can redo: the most recently undone of
    their actions, as long as they have done nothing new since that undo."""
    newest_action = session.execute(
        select(func.max(JournalEntry.id)).where(JournalEntry.who == who, JournalEntry.kind.not_in(UNDO_KINDS))
    ).scalar()
    undo_rows = session.scalars(
        select(JournalEntry)
        .where(
            JournalEntry.who == who,
            JournalEntry.kind == "undo",
            JournalEntry.id > (newest_action or 0),
        )
        .order_by(JournalEntry.id.desc())
    ).all()
    for undo in undo_rows:
        if undo.undoes is None:
            continue
        entry = session.get(JournalEntry, undo.undoes)
        if entry is not None and entry.undone and _latest_undo_id(session, entry.id) == undo.id:
            return entry, undo
    return None


def _latest_undo_id(session: Session, entry_id: int | None) -> int | None:
    return session.execute(
        select(func.max(JournalEntry.id)).where(JournalEntry.kind == "undo", JournalEntry.undoes == entry_id)
    ).scalar()


# -- taking an entry back ------------------------------------------------------------------------


def revert(session: Session, changes: Iterable[StoredChange], now: dt.datetime, *, lock: bool = False) -> None:
    """Apply ``changes`` backwards, newest first: an insert is deleted, an update gets its old
    values back, a delete is inserted again with its id. Every record must still hold what the
    change left, or nothing is done (``ConflictError`` naming what it holds now). The caller's
    write session is rolled back with the error, so a refusal changes nothing."""
    for change in reversed(list(changes)):
        model = model_of(change.table)
        if change.op == "delete":
            if session.get(model, change.record_id) is not None:
                raise ConflictError(
                    f"{_what(change.table, change.before)} exists again (another session brought it back); "
                    "nothing was undone"
                )
            session.add(model(**(change.before or {})))
            session.flush()
            continue
        row = session.get(model, change.record_id, with_for_update=lock)
        if row is None:
            raise ConflictError(
                f"{_what(change.table, change.after)} no longer exists (another session removed it); nothing was undone"
            )
        _check_unchanged(row, change)
        if change.op == "insert":
            _check_unreferenced(session, change.table, change.record_id, row)
            session.delete(row)
        else:
            for key, value in (change.before or {}).items():
                if key not in BOOKKEEPING:
                    setattr(row, key, value)
            if hasattr(row, "version"):
                row.version += 1
            if hasattr(row, "updated_at"):
                row.updated_at = now
        session.flush()


def _check_unchanged(row: SQLModel, change: StoredChange) -> None:
    """The record holds what ``change`` left — field by field, bookkeeping aside, so a change
    made and taken back since does not count — else ConflictError with what it holds now. An
    update is compared on the fields it changed: another session's edit of other fields is kept."""
    expected = change.after
    if not expected:
        return  # a bulk insert (an import) records no values: nothing to compare
    diffs = [k for k, v in expected.items() if k not in BOOKKEEPING and _plain(getattr(row, k)) != _plain(v)]
    if diffs:
        now_holds = ", ".join(f"{_field(k)} {_shown(getattr(row, k))}" for k in diffs[:4])
        raise ConflictError(
            f"{_what(change.table, snapshot(row))} was changed since (in another session or by a later action): "
            f"{now_holds}; nothing was undone",
            current=snapshot(row),
        )


def _field(name: str) -> str:
    return name.removesuffix("_cents").removesuffix("_id").removesuffix("_at").replace("_", " ")


def _check_unreferenced(session: Session, table: str, record_id: int, row: SQLModel) -> None:
    """A record made by the action can go only if nothing made since refers to it."""
    for other in SQLModel.metadata.sorted_tables:
        if other.name in NOT_JOURNALED:
            continue
        for fk in other.foreign_keys:
            if fk.column.table.name == table:
                n = (
                    session.connection()
                    .execute(select(func.count()).select_from(other).where(fk.parent == record_id))
                    .scalar_one()
                )
                if n:
                    raise ConflictError(
                        f"{_what(table, snapshot(row))} is now used by {n} {other.name.replace('sales_', '')} "
                        f"record{'s' if n != 1 else ''} made since; nothing was undone"
                    )


def _what(table: str, values: Mapping[str, Any] | None) -> str:
    values = values or {}
    name = values.get("title") or values.get("name") or values.get("subject") or values.get("number")
    noun = table.replace("sales_", "").replace("_", " ")
    return f"{noun} '{name}'" if name else f"this {noun}"


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    if value is None or value == "":
        return "(none)"
    return str(value)


def entries_about(
    session: Session, *, deal_id: int | None = None, customer_id: int | None = None, limit: int = 50
) -> Iterator[JournalEntry]:
    """The newest entries about a deal or a customer (its own changes and its deals')."""
    query = select(JournalEntry)
    if deal_id is not None:
        query = query.where(JournalEntry.deal_id == deal_id)
    if customer_id is not None:
        query = query.where(JournalEntry.customer_id == customer_id)
    yield from session.scalars(query.order_by(JournalEntry.id.desc()).limit(limit))
