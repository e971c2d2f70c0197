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
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Date, bindparam, event, func, insert, inspect, select, text, update
from sqlalchemy import exc as sa_exc
from sqlmodel import Session, SQLModel

from crm_tui import engines
from crm_tui.columns import col
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
    _check_values(change.table, snapshot(row), change.after)


def _check_values(table: str, now: Row, expected: Row | None) -> None:
    """``now`` (a record's values) holds ``expected`` (bookkeeping aside), else ConflictError."""
    if not expected:
        return  # a record an import made is stored without values (see revert_bulk)
    diffs = [k for k, v in expected.items() if k not in BOOKKEEPING and _plain(now.get(k)) != _plain(v)]
    if diffs:
        now_holds = ", ".join(f"{_field(k)} {_shown(now.get(k))}" for k in diffs[:4])
        raise ConflictError(
            f"{_what(table, now)} was changed since (in another session or by a later action): "
            f"{now_holds}; nothing was undone",
            current=dict(now),
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


# -- taking back a bulk entry (an import) --------------------------------------------------------

#: kinds of entries taken back by ``revert_bulk``: an import journals up to hundreds of
#: thousands of records, far too many to check, restore and journal one ORM row at a time
#: while the write lock is held
BULK_KINDS = frozenset({"import"})

_IDS = "SELECT record_id FROM journal_change WHERE entry_id = :e AND table_name = :t AND op = :op"


def revert_bulk(session: Session, entry_id: int, now: dt.datetime, *, lock: bool = False) -> None:
    """``revert`` for an entry of many records (an import, or the undo of one): a few
    statements per table instead of a few per record.

    The promise is ``revert``'s: every record must still hold what the entry left, or nothing
    is done (``ConflictError`` naming one record and what happened to it). A record the entry
    made counts as changed when a later action still in effect touched it — the journal says
    so without reading the record, as an import stores no values for the records it makes —
    or when another record now refers to it; a record it updated is compared field by field;
    one it removed must still be absent. What this revert does is journaled under the
    session's own entry (``open_entry``): each record it removes with all its values (a redo
    brings it back from them), each it restores with old and new values, each it brings back.

    Order: records the entry removed come back first (parents first), then updated records
    get their old values, then the records it made go (children first). An import never gives
    a new record the id of one it removes (``Staging.reserve``), so the two never meet."""
    conn = session.connection()
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    jc = JournalChange.__table__
    counts = {
        (name, op): int(n)
        for name, op, n in conn.execute(
            select(jc.c.table_name, jc.c.op, func.count())
            .where(jc.c.entry_id == entry_id)
            .group_by(jc.c.table_name, jc.c.op)
        )
    }
    order = [t for t in SQLModel.metadata.sorted_tables if t.name not in NOT_JOURNALED]  # parents first
    made = [t for t in reversed(order) if (t.name, "insert") in counts]
    removed = [t for t in order if (t.name, "delete") in counts]
    updates = changes_of(session, entry_id, ops=("update",))

    for table in made:
        _check_made(session, table, entry_id, counts[(table.name, "insert")], order, lock=lock)
    current = _check_updated(session, updates, lock=lock)
    for table in removed:
        _check_absent(session, table, entry_id)

    new_id = open_entry(session, {t.name for t in made + removed} | {c.table for c in updates})
    for table in made:
        conn.execute(
            text(
                "INSERT INTO journal_change (entry_id, table_name, record_id, op, before, after) "
                f"SELECT :new, :name, x.id, 'delete', {engines.row_json(table, 'x', dialect)}, NULL "
                f"FROM {quote(table.name)} x WHERE x.id IN ({_IDS})"
            ),
            # one parameter per use: PostgreSQL types the value written and the one compared apart
            {"new": new_id, "name": table.name, "e": entry_id, "t": table.name, "op": "insert"},
        )
    insert_changes(session, new_id, [_restoring(c, current[(c.table, c.record_id)], now) for c in updates])
    if removed:
        conn.execute(
            text(
                "INSERT INTO journal_change (entry_id, table_name, record_id, op, before, after) "
                "SELECT :new, table_name, record_id, 'insert', NULL, NULL FROM journal_change "
                "WHERE entry_id = :e AND op = 'delete' ORDER BY id"
            ),
            {"new": new_id, "e": entry_id},
        )

    try:
        for table in removed:
            document = engines.json_document("before", dialect)
            cols = ", ".join(quote(c.name) for c in table.c)
            values = ", ".join(engines.json_field(c, "src.j", dialect) for c in table.c)
            conn.execute(
                text(
                    f"INSERT INTO {quote(table.name)} ({cols}) SELECT {values} FROM "
                    f"(SELECT {document} AS j, id AS jid FROM journal_change "
                    "WHERE entry_id = :e AND table_name = :t AND op = 'delete') src ORDER BY src.jid"
                ),
                {"e": entry_id, "t": table.name},
            )
    except sa_exc.IntegrityError:
        raise ConflictError(
            f"a {_noun(table.name)} it would bring back clashes with one made since (the same name or number); "
            "nothing was undone"
        ) from None
    _restore(conn, updates, now)
    for table in made:
        try:
            conn.execute(
                text(f"DELETE FROM {quote(table.name)} WHERE id IN ({_IDS})"),
                {"e": entry_id, "t": table.name, "op": "insert"},
            )
        except sa_exc.IntegrityError:  # PostgreSQL: a record referring to one was saved meanwhile
            raise ConflictError(
                f"a {_noun(table.name)} it made is now used by a record saved meanwhile; nothing was undone"
            ) from None


def _check_made(session: Session, table: Any, entry_id: int, expected: int, order: list[Any], *, lock: bool) -> None:
    """The records ``entry_id`` made in ``table`` are all there, untouched by any later action in
    effect, and no record outside the entry refers to one."""
    conn = session.connection()
    jc = JournalChange.__table__
    made = select(jc.c.record_id).where(jc.c.entry_id == entry_id, jc.c.table_name == table.name, jc.c.op == "insert")
    live = select(table.c.id).where(table.c.id.in_(made))
    if lock:
        # PostgreSQL: an edit of one of them saved from now on waits for this revert; one saved
        # before is in the journal the check below reads
        live = live.with_for_update()
    found = conn.execute(select(func.count()).select_from(live.subquery())).scalar_one()
    if found != expected:
        gone = conn.execute(made.where(~select(table.c.id).where(table.c.id == jc.c.record_id).exists()).limit(1))
        raise ConflictError(
            f"{_noun(table.name)} #{gone.scalar()} that it made no longer exists (removed since); nothing was undone"
        )
    mine, later = jc.alias("mine"), jc.alias("later")
    entries = JournalEntry.__table__
    touched = conn.execute(
        select(later.c.record_id, entries.c.action, entries.c.who)
        .select_from(
            mine.join(
                later,
                (later.c.table_name == mine.c.table_name)
                & (later.c.record_id == mine.c.record_id)
                & (later.c.entry_id > entry_id),
            ).join(entries, entries.c.id == later.c.entry_id)
        )
        .where(
            mine.c.entry_id == entry_id,
            mine.c.table_name == table.name,
            mine.c.op == "insert",
            entries.c.kind.not_in(UNDO_KINDS),
            entries.c.undone.is_(False),
        )
        .order_by(later.c.entry_id)
        .limit(1)
    ).first()
    if touched is not None:
        row = _row(conn, table, touched.record_id)
        raise ConflictError(
            f"{_what(table.name, row)} was changed since ({touched.action}, by {touched.who or 'someone'}); "
            "nothing was undone",
            current=row,
        )
    for other in order:
        for fk in other.foreign_keys:
            if fk.column.table.name != table.name:
                continue
            in_entry = select(jc.c.record_id).where(jc.c.entry_id == entry_id, jc.c.table_name == other.name)
            users = select(fk.parent).where(fk.parent.in_(made), other.c.id.not_in(in_entry))
            n = conn.execute(select(func.count()).select_from(users.subquery())).scalar_one()
            if n:
                row = _row(conn, table, conn.execute(users.limit(1)).scalar())
                raise ConflictError(
                    f"{_what(table.name, row)} is now used by {n} {_noun(other.name)} "
                    f"record{'s' if n != 1 else ''} made or changed since; nothing was undone"
                )


def _check_updated(session: Session, updates: list[StoredChange], *, lock: bool) -> dict[tuple[str, int], Row]:
    """Each record the entry updated still holds its new values (``_check_values``). → the
    records' values now, by (table, id)."""
    conn = session.connection()
    current: dict[tuple[str, int], Row] = {}
    by_table: dict[str, list[int]] = {}
    for change in updates:
        by_table.setdefault(change.table, []).append(change.record_id)
    for name, ids in by_table.items():
        table = model_of(name).__table__
        for start in range(0, len(ids), 500):
            query = select(table).where(table.c.id.in_(ids[start : start + 500]))
            for row in conn.execute(query.with_for_update() if lock else query).mappings():
                current[(name, row["id"])] = dict(row)
    for change in updates:
        now = current.get((change.table, change.record_id))
        if now is None:
            raise ConflictError(
                f"{_what(change.table, change.after)} no longer exists (another session removed it); nothing was undone"
            )
        _check_values(change.table, now, change.after)
    return current


def _check_absent(session: Session, table: Any, entry_id: int) -> None:
    """No record the entry removed from ``table`` exists again."""
    conn = session.connection()
    jc = JournalChange.__table__
    back = conn.execute(
        select(jc.c.before)
        .where(
            jc.c.entry_id == entry_id,
            jc.c.table_name == table.name,
            jc.c.op == "delete",
            select(table.c.id).where(table.c.id == jc.c.record_id).exists(),
        )
        .limit(1)
    ).first()
    if back is not None:
        raise ConflictError(
            f"{_what(table.name, decode(table.name, back.before))} exists again (another session brought it back); "
            "nothing was undone"
        )


def _restoring(change: StoredChange, now_values: Row, now: dt.datetime) -> Change:
    """The journal of giving an updated record its old values back (bookkeeping moves on)."""
    keys = [k for k in (change.before or {}) if k not in BOOKKEEPING]
    before = {k: now_values.get(k) for k in keys}
    after = {k: (change.before or {})[k] for k in keys}
    if "version" in now_values:
        before["version"], after["version"] = now_values["version"], now_values["version"] + 1
    if "updated_at" in now_values:
        before["updated_at"], after["updated_at"] = now_values["updated_at"], now
    return Change(change.table, change.record_id, "update", before, after)


def _restore(conn: Any, updates: list[StoredChange], now: dt.datetime) -> None:
    """Give each updated record its old values back, one executemany per table and field set."""
    groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
    for change in updates:
        values = {k: v for k, v in (change.before or {}).items() if k not in BOOKKEEPING}
        if values:
            key = (change.table, tuple(sorted(values)))
            groups.setdefault(key, []).append({"b_id": change.record_id, **{f"v_{k}": v for k, v in values.items()}})
    for (name, keys), rows in groups.items():
        table = model_of(name).__table__
        sets: dict[str, Any] = {k: bindparam(f"v_{k}", type_=table.c[k].type) for k in keys}
        if "version" in table.c:
            sets["version"] = table.c.version + 1
        if "updated_at" in table.c:
            sets["updated_at"] = now
        conn.execute(update(table).where(table.c.id == bindparam("b_id")).values(sets), rows)


def _row(conn: Any, table: Any, record_id: int | None) -> Row:
    found = conn.execute(select(table).where(table.c.id == record_id)).mappings().first()
    return dict(found) if found is not None else {}


def _noun(table: str) -> str:
    return table.replace("sales_", "").replace("_", " ")


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
