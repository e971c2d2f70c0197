"""Undo and redo: taking a journal entry back, and bringing it again.

- which entry an undo or a redo takes: ``last_undoable``, ``last_redoable``;
- ``revert``: an entry's changes applied backwards, one ORM row at a time, after checking that
  every record still holds what the entry left (a record changed since, by another session or
  another action, refuses the whole undo and says what it holds now);
- ``revert_bulk``: the same for an entry of many records (``BULK_KINDS``: an import, or the
  undo of one), a few set-based statements per table.

An undo is itself an entry (kind "undo", ``undoes`` the entry it took back), written under the
write session's own entry (``crm_tui.journal_entries``); a redo reverts that undo. Every name
here is re-exported by ``crm_tui.journal``, where callers find it. No textual import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy import exc as sa_exc
from sqlmodel import Session, SQLModel

from crm_tui import engines
from crm_tui.errors import ConflictError
from crm_tui.journal_entries import (
    BOOKKEEPING,
    NOT_JOURNALED,
    UNDO_KINDS,
    Change,
    Row,
    StoredChange,
    _plain,
    changes_of,
    decode,
    insert_changes,
    model_of,
    open_entry,
    snapshot,
)
from crm_tui.models import JournalChange, JournalEntry

# -- which entry an undo or a redo takes ---------------------------------------------------------


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
