"""Read side of the change journal: what happened, by whom, field by field.

``history()`` feeds the History sections of the deal and customer pages and
``crm-tui history``: the newest entries first, each with the fields it changed
shown as a rep reads them (a stage by its name, money in major units, times in
local time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, or_, select

from crm_tui import journal as jr
from crm_tui.columns import col, pk
from crm_tui.models import JournalChange, JournalEntry, Stage
from crm_tui.textnorm import money_text

if TYPE_CHECKING:
    from crm_tui.db import Database

#: record kinds ``--record KIND:ID`` accepts → their table
RECORD_KINDS = {
    "customer": "customer",
    "contact": "contact",
    "deal": "deal",
    "task": "task",
    "note": "note",
    "order": "sales_order",
    "product": "product",
}
#: fields not worth a line of history (bookkeeping, search keys)
QUIET = {"version", "updated_at", "name_key", "id"}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class RecordChange:
    table: str
    record_id: int
    op: str  # insert, update, delete
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class HistoryItem:
    id: int
    at: dt.datetime
    who: str
    kind: str
    action: str
    record_table: str
    record_id: int | None
    undone: bool
    changes: tuple[RecordChange, ...] = field(default=())


def parse_record(value: str) -> tuple[str, int]:
    """``deal:12`` → ("deal", 12); ValidationError naming the accepted kinds."""
    from crm_tui.errors import ValidationError

    kind, _, raw = value.partition(":")
    table = RECORD_KINDS.get(kind.strip().lower())
    if table is None or not raw.strip().isdigit():
        raise ValidationError(
            f"--record must be KIND:ID with KIND one of {', '.join(RECORD_KINDS)} (e.g. deal:12), got {value!r}"
        )
    return table, int(raw)


def history(
    db: Database,
    *,
    since: dt.datetime | None = None,
    record: tuple[str, int] | None = None,
    deal_id: int | None = None,
    customer_id: int | None = None,
    limit: int = 200,
) -> list[HistoryItem]:
    """The newest ``limit`` journal entries (optionally since a time, about one record, or
    about a deal or a customer and its deals), with their changes."""
    query = select(JournalEntry)
    if since is not None:
        query = query.where(col(JournalEntry.at) >= since)
    if deal_id is not None:
        query = query.where(col(JournalEntry.deal_id) == deal_id)
    if customer_id is not None:
        query = query.where(col(JournalEntry.customer_id) == customer_id)
    with db.read() as session:
        if record is not None:
            table, rid = record
            touched = select(col(JournalChange.entry_id)).where(
                col(JournalChange.table_name) == table, col(JournalChange.record_id) == rid
            )
            query = query.where(
                or_(
                    pk(JournalEntry.id).in_(touched),
                    (col(JournalEntry.record_table) == table) & (col(JournalEntry.record_id) == rid),
                )
            )
        entries = list(session.scalars(query.order_by(pk(JournalEntry.id).desc()).limit(limit)))
        ids = [e.id for e in entries]
        # An import's entry holds every record of the file: about one record, only its change
        # is listed (the rest can be tens of thousands of lines, read for nothing)
        bulk = {e.id for e in entries if e.kind in jr.BULK_KINDS} if record is not None else set()
        by_entry: dict[int, list[RecordChange]] = {}
        stages = dict(session.execute(select(pk(Stage.id), col(Stage.name))).all())
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            picked: ColumnElement[bool] = col(JournalChange.entry_id).in_([i for i in chunk if i not in bulk])
            if record is not None and bulk & set(chunk):
                picked = or_(
                    picked,
                    col(JournalChange.entry_id).in_(bulk & set(chunk))
                    & (col(JournalChange.table_name) == record[0])
                    & (col(JournalChange.record_id) == record[1]),
                )
            rows = session.execute(
                select(
                    col(JournalChange.entry_id),
                    col(JournalChange.table_name),
                    col(JournalChange.record_id),
                    col(JournalChange.op),
                    col(JournalChange.before),
                    col(JournalChange.after),
                )
                .where(picked)
                .order_by(pk(JournalChange.id))
            )
            for entry_id, table, rid, op, before, after in rows:
                by_entry.setdefault(entry_id, []).append(
                    RecordChange(table, rid, op, _fields(op, jr.decode(table, before), jr.decode(table, after), stages))
                )
    return [
        HistoryItem(
            e.id or 0,
            e.at,
            e.who,
            e.kind,
            e.action,
            e.record_table,
            e.record_id,
            e.undone,
            tuple(by_entry.get(e.id or 0, ())),
        )
        for e in entries
    ]


def _fields(
    op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, stages: dict[int, str]
) -> tuple[FieldChange, ...]:
    if op != "update":
        return ()
    before, after = before or {}, after or {}
    return tuple(
        FieldChange(_name(k), shown(k, before.get(k), stages), shown(k, after.get(k), stages))
        for k in after
        if k not in QUIET
    )


def _name(key: str) -> str:
    return key.removesuffix("_cents").removesuffix("_id").removesuffix("_at").replace("_", " ")


def shown(key: str, value: Any, stages: dict[int, str] | None = None) -> str:
    """A stored value as a rep reads it."""
    if value is None or value == "":
        return "—"
    if key.endswith("_cents") and isinstance(value, int):
        return money_text(value)
    if key.endswith("stage_id") and stages and value in stages:
        return stages[value]
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def summary(item: HistoryItem, *, limit: int = 3) -> str:
    """The fields an entry changed, in one line: "stage: Lead → Qualified; amount: 1,000.00 → 2,500.00"."""
    parts: list[str] = []
    for change in item.changes:
        for f in change.fields:
            parts.append(f"{f.field}: {f.old} → {f.new}")
    if len(parts) > limit:
        parts = parts[:limit] + [f"+{len(parts) - limit} more"]
    return "; ".join(parts)


def as_json(items: Sequence[HistoryItem]) -> list[dict[str, Any]]:
    return [
        {
            "id": i.id,
            "at": i.at.astimezone(dt.UTC).isoformat(),
            "who": i.who,
            "kind": i.kind,
            "action": i.action,
            "record": {"kind": _kind_of(i.record_table), "id": i.record_id} if i.record_id is not None else None,
            "undone": i.undone,
            "changes": [
                {
                    "record": {"kind": _kind_of(c.table), "id": c.record_id},
                    "op": c.op,
                    "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in c.fields],
                }
                for c in i.changes
            ],
        }
        for i in items
    ]


def _kind_of(table: str) -> str:
    return next((k for k, t in RECORD_KINDS.items() if t == table), table)
