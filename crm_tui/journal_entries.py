"""Journal entries: what a write declares and changes, and how its entry is written and read.

- declaring and capturing: a service declares its ``Action`` on its write session
  (``declare``); ``capture`` collects, at every flush, the rows the session inserts, updates and
  deletes, folded into one ``Change`` per record;
- writing an entry: ``write_entry`` stores the action and its changes as one ``journal`` row
  and one ``journal_change`` row per record, in the session's transaction; a bulk write opens
  its entry first (``open_entry``) and journals its records with SQL (``insert_changes``,
  ``bulk_tables``);
- values: ``encode`` and ``decode`` (JSON, datetimes as ISO text in UTC, dates as ISO text),
  ``snapshot`` of a row, ``model_of`` a table name;
- reading entries: an entry's stored changes (``changes_of``), the entries about a deal or
  a customer (``entries_about``).

Taking an entry back is ``crm_tui.journal_undo``'s. Every name here is re-exported by
``crm_tui.journal``, where callers find it. No textual import.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Date, event, insert, inspect, select
from sqlmodel import Session, SQLModel

from crm_tui.columns import col
from crm_tui.models import JournalChange, JournalEntry, UTCDateTime

#: tables whose rows are facts about the database or the journal itself, never journaled
NOT_JOURNALED = frozenset({"journal", "journal_change", "change_log", "crm_meta"})
#: bookkeeping columns an undo moves forward instead of back (an undo is a new change)
BOOKKEEPING = ("version", "updated_at")
#: kinds of entries that take back or bring back another entry
UNDO_KINDS = ("undo", "redo")

_ACTION = "crm_journal_action"
_CHANGES = "crm_journal_changes"
_OPEN = "crm_journal_open"

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

    Nothing is written when nothing changed and no action was declared. When the entry was
    opened already (``open_entry``), ``changes`` join it. Returns the entry id."""
    opened = _opened(session)
    if opened is not None:
        insert_changes(session, opened[0], changes)
        return opened[0]
    if action is None and not changes:
        return None
    if action is None:
        first = changes[0]
        action = Action("change", f"{first.op} {first.table.replace('_', ' ')} #{first.record_id}")
    entry_id = _add_entry(session, action, changes)
    insert_changes(session, entry_id, changes)
    return entry_id


def _add_entry(session: Session, action: Action, changes: list[Change], *, bulk: bool = False) -> int:
    record = action.record
    if record is None and changes and not bulk:
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
        # a bulk entry's records are written by SQL, unseen here: it names no one deal or customer
        deal_id=next(iter(deals)) if len(deals) == 1 and not bulk else None,
        customer_id=next(iter(customers)) if len(customers) == 1 and not bulk else None,
        undoes=action.undoes,
    )
    session.add(entry)
    session.flush()
    assert entry.id is not None
    return entry.id


def insert_changes(session: Session, entry_id: int, changes: list[Change]) -> None:
    """Store ``changes`` under the entry ``entry_id`` (one executemany)."""
    if changes:
        session.connection().execute(
            insert(JournalChange),
            [
                {
                    "entry_id": entry_id,
                    "table_name": c.table,
                    "record_id": c.record_id,
                    "op": c.op,
                    "before": encode(c.before),
                    "after": encode(c.after),
                }
                for c in changes
            ],
        )


def open_entry(session: Session, tables: Iterable[str] = ()) -> int:
    """Write the entry of this session's declared action now, before its changes, and return
    its id: for a bulk write (an import, the undo of one) that journals its records with SQL
    (``INSERT … SELECT`` into journal_change under this id) instead of through the ORM.
    ``tables``: the tables the bulk write changes, announced with the commit. Changes the ORM
    flushes in the same session still join this entry when the write ends."""
    opened = _opened(session)
    if opened is None:
        action = declared(session)
        if action is None:
            raise RuntimeError("open_entry needs a declared action (journal.declare)")
        opened = (_add_entry(session, action, [], bulk=True), set())
        session.info[_OPEN] = opened
    opened[1].update(tables)
    return opened[0]


def bulk_tables(session: Session) -> set[str]:
    """The tables a bulk write of this session said it changed (``open_entry``)."""
    opened = _opened(session)
    return set(opened[1]) if opened is not None else set()


def _opened(session: Session) -> tuple[int, set[str]] | None:
    opened = session.info.get(_OPEN)
    return opened if isinstance(opened, tuple) else None


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
            # rows journaled by SQL (``engines.row_json``) hold SQLite's naive UTC text
            value = dt.datetime.fromisoformat(value)
            value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
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


def changes_of(session: Session, entry_id: int, *, ops: tuple[str, ...] | None = None) -> list[StoredChange]:
    query = select(
        JournalChange.table_name,
        JournalChange.record_id,
        JournalChange.op,
        JournalChange.before,
        JournalChange.after,
    ).where(JournalChange.entry_id == entry_id)
    if ops is not None:
        query = query.where(col(JournalChange.op).in_(ops))
    rows = session.connection().execute(query.order_by(JournalChange.id))
    return [StoredChange(t, i, op, decode(t, b), decode(t, a)) for t, i, op, b, a in rows]


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
