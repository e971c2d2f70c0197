"""The learned forecast's reading of the book: every live deal, its stage moves, its lines' list value
and its journaled edits, straight into the arrays of ``forecast_model.Book`` (no Python object per
deal or move). ``read_book(…, open_at=…)`` reads only the deals open at a moment, what applying a
learned forecast needs (``forecast_learn.apply_learned``); ``read_parts`` reads the whole book a part
at a time, what learning needs (``forecast_learn.learn_parts``).

Each column is read into an array by ``sql_arrays``.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import ColumnElement, and_, func, literal, literal_column, or_, select

from crm_tui.columns import bigint, col, pk
from crm_tui.metrics._common import live_deal, unindexed
from crm_tui.metrics.forecast_model import (
    _OUTCOMES,
    Book,
    Bools,
    Ints,
    _day,
    _lookup,
    _us,
)
from crm_tui.metrics.sql_arrays import columns, fetch, parse_joined
from crm_tui.models import UTC, Deal, DealProduct, JournalChange, JournalEntry, Product, Stage, StageChange, UTCDateTime
from crm_tui.money import Rates, load_rates_conn

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from crm_tui.db import Database


def load_book(db: Database) -> Book:
    """Every live deal with its stage moves, list value and journaled amount changes (a handful of
    queries, read straight into arrays)."""
    with db.read() as session:
        return read_book(session.connection())


def _line_values(conn: Connection, lines: Any) -> tuple[Ints, Ints]:
    """(deal id, its lines' list value) of every deal with lines; on SQLite as two joined columns."""
    if conn.dialect.name == "sqlite":
        grouped = lines.subquery()
        deal_id, total = grouped.c
        joined = select(
            func.count(), func.group_concat(deal_id, ","), func.group_concat(func.ifnull(total, 0), ",")
        ).select_from(grouped)
        [(count, ids_text, sums_text)] = fetch(conn, joined)
        try:
            if not count:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
            return parse_joined(ids_text, count, "int"), parse_joined(sums_text, count, "int")
        except ValueError:
            pass  # a sum past what fits: row by row
    rows = fetch(conn, lines)
    return (
        np.array([r[0] for r in rows], dtype=np.int64).reshape(len(rows)),
        np.array([int(r[1] or 0) for r in rows], dtype=np.int64).reshape(len(rows)),
    )


def read_book(conn: Connection, *, open_at: dt.datetime | None = None, memo: dict[str, Any] | None = None) -> Book:
    """``load_book`` on an open read transaction. The collector is paused while the rows are in
    hand: a million fetched tuples are garbage it would otherwise walk again and again.

    ``open_at``: only the deals open then (not closed by then; those created later too, left out
    when the book is asked what is open) with their moves, lines and the journaled changes after
    then (earlier ones cannot change what they were then) — what applying a learned forecast reads
    (``apply_learned``): a fraction of the book, found through the index of close times.

    ``memo`` (``Database.memo``, SQLite, with ``open_at``): the deals open then are kept there with
    the ``fig_feed`` position they were read at; the next read of the deals open at a later moment
    reads again only the deals the feed names since, and patches them in — a stage move costs the
    moved deal, not the sixty thousand deals open."""
    with _collector_paused():
        if memo is None or open_at is None or conn.dialect.name != "sqlite":
            raw = _read_raw(conn, open_at=open_at)
        else:
            # the feed's position is read before any deal: a write committed after it (were the
            # reads not one snapshot) is read again next time, never kept as seen; the result is a
            # copy, as finishing takes its arrays
            raw = replace(_kept_open(conn, memo, _feed(conn), open_at))
        return _finish(raw, conn)


#: deal ids per part of the book learned from at a time (``read_parts``): a part's arrays and the
#: learner's pairs of it are a few tens of MiB however large the book
PART = 50_000


def read_parts(conn: Connection) -> tuple[Iterator[Book], int | None]:
    """The whole book a part at a time (deals by id range, each with its moves, lines and journaled
    changes), in id order, and the earliest creation among its deals (microseconds; None: none) —
    what ``forecast_learn.learn_parts`` learns from. Each part is read as it is asked for, in
    ``conn``'s transaction."""
    # the ids of every deal, live or not (the parts read only the live ones): the primary key's
    # ends, each its own query (SQLite looks up one min() or max() of a query, scans for both)
    low = conn.execute(select(func.min(pk(Deal.id)))).scalar()
    high = conn.execute(select(func.max(pk(Deal.id)))).scalar()
    # the first in the index of creation times that is live (min() would look at every deal)
    first = conn.execute(
        select(col(Deal.created_at)).where(live_deal()).order_by(col(Deal.created_at)).limit(1)
    ).scalar()

    def parts() -> Iterator[Book]:
        if low is None or high is None:
            return
        now = _now(conn)
        for start in range(int(low), int(high) + 1, PART):
            with _collector_paused():
                yield _finish(_read_raw(conn, span=(start, start + PART - 1)), conn, now)

    return parts(), None if first is None else _us(_utc(first))


@contextmanager
def _collector_paused() -> Iterator[None]:
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _utc(t: Any) -> dt.datetime:
    """A moment read through its column's type (an aware datetime) or, from an unusual driver, as text."""
    moment = t if isinstance(t, dt.datetime) else dt.datetime.fromisoformat(str(t))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


#: the deals open at a moment, kept in ``Database.memo`` under this key (``read_book``)
_KEPT = "forecast_open"
#: what ``_finish`` leaves in a ``_Raw`` whose moves it took
_NONE: Ints = np.zeros(0, dtype=np.int64)
#: past this many deals changed since the kept ones were read, the deals open are read again whole
_PATCH_MOST = 2_000


@dataclass(frozen=True)
class _Kept:
    seq: int  # the last fig_feed row seen
    at: int  # the deals open at this moment (microseconds): not closed by then
    raw: _Raw


def _feed(conn: Connection) -> tuple[int, int]:
    """(newest, oldest) row of ``fig_feed`` (0, 0: none)."""
    newest, oldest = conn.exec_driver_sql("SELECT max(seq), min(seq) FROM fig_feed").one()
    return int(newest or 0), int(oldest or 0)


def _kept_open(conn: Connection, memo: dict[str, Any], feed: tuple[int, int], open_at: dt.datetime) -> _Raw:
    """The deals open at ``open_at``: the kept ones patched with the deals changed since they were
    read, less those closed since; or (nothing kept, kept for a later moment, the feed's rows since
    then pruned, a change to every deal, too many changed) read whole."""
    newest, oldest = feed
    then = _us(open_at)
    kept = memo.get(_KEPT)
    raw: _Raw | None = None
    if isinstance(kept, _Kept) and kept.at <= then and kept.seq <= newest:
        if kept.seq == newest:
            raw = kept.raw
        elif oldest <= kept.seq + 1:
            changed = [
                d for (d,) in conn.exec_driver_sql("SELECT deal_id FROM fig_feed WHERE seq > ?", (kept.seq,)).all()
            ]
            ids = np.unique(np.array([d for d in changed if d is not None], dtype=np.int64))
            if None not in changed and len(ids) <= _PATCH_MOST:
                raw = kept.raw.patched(ids, _read_raw(conn, open_at=open_at, among=ids))
        if raw is not None:
            still = raw.closed > then  # closed since (by their close time, not by a write): not open then
            if not still.all():
                raw = raw.only(still)
    if raw is None:
        raw = _read_raw(conn, open_at=open_at)
    memo[_KEPT] = _Kept(newest, then, raw)
    return raw


@dataclass
class _Raw:
    """The book as read, by deal id (a move or a change names its deal, not the deal's row): what
    the kept deals open hold, patched deal by deal, before ``_finish`` makes it a ``Book``."""

    ids: Ints  # in id order
    pipeline: Ints
    stage: Ints
    amount: Ints
    created: Ints
    closed: Ints
    expected: Ints
    currency: list[str]
    line_deal: Ints
    line_sum: Ints
    move_id: Ints
    move_deal: Ints
    move_to: Ints
    move_at: Ints
    #: (deal id, at, amount before it) / (deal id, at, expected close day before it), in time order
    amount_changes: list[tuple[int, int, int]]
    expected_changes: list[tuple[int, int, int]]

    def only(self, deals: Bools) -> _Raw:
        """The deals where ``deals`` is true, with their lines, moves and changes (new arrays)."""
        ids = self.ids[deals]
        kept = set(ids.tolist())
        which = {"deal": deals, "line": np.isin(self.line_deal, ids), "move": np.isin(self.move_deal, ids)}
        out: dict[str, Any] = {}
        for name, group in _GROUPS.items():
            value = getattr(self, name)
            if group == "change":
                out[name] = [c for c in value if c[0] in kept]
            elif name == "currency":
                out[name] = [c for c, k in zip(value, deals.tolist()) if k]
            else:
                out[name] = value[which[group]]
        return _Raw(**out)

    def patched(self, changed: Ints, fresh: _Raw) -> _Raw:
        """These deals with ``changed`` as ``fresh`` has them (one ``fresh`` lacks: gone, or no
        longer open), in id order."""
        stays = self.only(~np.isin(self.ids, changed))
        order = np.argsort(np.concatenate([stays.ids, fresh.ids]), kind="stable")
        out: dict[str, Any] = {}
        for name, group in _GROUPS.items():
            a, b = getattr(stays, name), getattr(fresh, name)
            if isinstance(a, list):
                both = a + b
                out[name] = [both[i] for i in order.tolist()] if group == "deal" else both
            else:
                out[name] = np.concatenate([a, b])[order] if group == "deal" else np.concatenate([a, b])
        return _Raw(**out)


#: each ``_Raw`` field's kind: one per deal (in id order), per deal with lines, per move, per change
_GROUPS = {
    **dict.fromkeys(("ids", "pipeline", "stage", "amount", "created", "closed", "expected", "currency"), "deal"),
    **dict.fromkeys(("line_deal", "line_sum"), "line"),
    **dict.fromkeys(("move_id", "move_deal", "move_to", "move_at"), "move"),
    **dict.fromkeys(("amount_changes", "expected_changes"), "change"),
}


def _read_raw(
    conn: Connection,
    *,
    open_at: dt.datetime | None = None,
    among: Ints | None = None,
    span: tuple[int, int] | None = None,
) -> _Raw:
    """The live deals (those open at ``open_at``; those of ``among``; those with ids in ``span``,
    inclusive), their lines' list value, their moves and their journaled amount and expected-close
    changes (after ``open_at``)."""
    from crm_tui.journal import decode

    deals = live_deal()
    if among is not None:
        deals = and_(deals, _among(among, conn.dialect.name)("deal.id"))
    if span is not None:
        deals = and_(deals, pk(Deal.id).between(*span))
    if open_at is not None:
        then = literal(open_at, UTCDateTime)
        # through the close time's index (a few deals open now), never the creation time's (every
        # deal created before now, nearly the book)
        deals = and_(deals, or_(col(Deal.closed_at).is_(None), col(Deal.closed_at) > then))
    deal_ids, pipeline, stage, amount, created, closed, expected, currency = columns(
        conn,
        "deal",
        [
            (pk(Deal.id), "int"),
            (col(Deal.pipeline_id), "int"),
            (col(Deal.stage_id), "int"),
            (col(Deal.amount_cents), "int"),
            (col(Deal.created_at), "moment"),
            (col(Deal.closed_at), "moment"),
            (col(Deal.expected_close), "day"),
            (col(Deal.currency), "text"),
        ],
        deals,
        whole=open_at is not None or among is not None or span is not None,
    )
    # read in id order already (chunks of ids, each in rowid order): then no copy of every column
    if not bool(np.all(deal_ids[1:] > deal_ids[:-1])):
        by_id = np.argsort(deal_ids, kind="stable")
        deal_ids, pipeline, stage, amount, created, closed, expected = (
            a[by_id] for a in (deal_ids, pipeline, stage, amount, created, closed, expected)
        )
        currency = list(map(currency.__getitem__, by_id.tolist()))
    lines = (
        select(col(DealProduct.deal_id), func.sum(bigint(col(DealProduct.quantity)) * col(Product.unit_price_cents)))
        .join(Product, pk(Product.id) == col(DealProduct.product_id))
        .group_by(col(DealProduct.deal_id))
    )
    # the deals read, by id (those open then are found once, through the index of close times)
    of_deals = (
        _among(deal_ids, conn.dialect.name)
        if open_at is not None or among is not None
        else _between(span)
        if span is not None
        else None
    )
    if of_deals is not None:
        lines = lines.where(of_deals("deal_product.deal_id"))
    line_deal, line_sum = _line_values(conn, lines)
    move_id, move_deal, move_to, move_at = columns(
        conn,
        "stage_change",
        [
            (pk(StageChange.id), "int"),
            (col(StageChange.deal_id), "int"),
            (col(StageChange.to_stage_id), "int"),
            (col(StageChange.at), "moment"),
        ],
        # an import's record of the final stage is not history (module docstring)
        and_(
            ~(col(StageChange.from_stage_id).is_(None) & (col(StageChange.by) == "import")),
            *([of_deals("stage_change.deal_id")] if of_deals is not None else []),
        ),
        whole=of_deals is not None,
    )
    amount_changes: list[tuple[int, int, int]] = []
    expected_changes: list[tuple[int, int, int]] = []
    journal = (
        select(col(JournalChange.record_id), col(JournalEntry.at), col(JournalChange.before))
        .join(JournalEntry, pk(JournalEntry.id) == col(JournalChange.entry_id))
        .where(
            (col(JournalChange.table_name) if open_at is None else unindexed(col(JournalChange.table_name))) == "deal",
            *([col(JournalChange.record_id).between(*span)] if span is not None else []),
            col(JournalChange.op) == "update",
            col(JournalChange.before).like('%"amount_cents"%') | col(JournalChange.before).like('%"expected_close"%'),
            # the deals as they are then: only a change after then says they were otherwise (the
            # journal's index of times finds those, mostly none; not each open deal's entries)
            *(_after(open_at) if open_at is not None else []),
        )
        .order_by(col(JournalEntry.at), pk(JournalChange.id))
    )
    n = len(deal_ids)
    for did, at, before_text in conn.execute(journal):
        row = int(np.searchsorted(deal_ids, did)) if n else 0
        if row >= n or deal_ids[row] != did:
            continue
        before = decode("deal", before_text) or {}
        if "amount_cents" in before and before["amount_cents"] is not None:
            amount_changes.append((int(did), _us(at), int(before["amount_cents"])))
        if "expected_close" in before:
            expected_changes.append((int(did), _us(at), _day(before["expected_close"])))
    return _Raw(
        deal_ids,
        pipeline,
        stage,
        amount,
        created,
        closed,
        expected,
        currency,
        line_deal,
        line_sum,
        move_id,
        move_deal,
        move_to,
        move_at,
        amount_changes,
        expected_changes,
    )


@dataclass(frozen=True)
class _Now:
    """The stages and rates as they are now: what ``_finish`` gives every deal it makes a book of."""

    outcome: dict[int, str]  # stage id → open, won or lost
    probability: dict[int, int]  # stage id → win %
    first_open: dict[int, int]  # pipeline id → its first open stage
    rates: Rates


def _now(conn: Connection) -> _Now:
    stage_rows = conn.execute(
        select(
            pk(Stage.id), col(Stage.pipeline_id), col(Stage.position), col(Stage.probability), col(Stage.outcome)
        ).order_by(col(Stage.pipeline_id), col(Stage.position), pk(Stage.id))
    ).all()
    first_open: dict[int, int] = {}
    for sid, pid, _pos, _prob, out in stage_rows:
        if out == "open":
            first_open.setdefault(pid, sid)
    return _Now(
        {sid: out for sid, _p, _pos, _prob, out in stage_rows},
        {sid: prob for sid, _p, _pos, prob, _out in stage_rows},
        first_open,
        load_rates_conn(conn),
    )


def _finish(raw: _Raw, conn: Connection, now: _Now | None = None) -> Book:
    """``raw`` as a ``Book`` by rows, with the stages and rates as they are now (``now``: read once
    for every part of a book). Takes its arrays (a whole book's moves are a few million: each is let
    go as soon as its sorted copy is made)."""
    now = now or _now(conn)
    outcome, probability, first_open, rates = now.outcome, now.probability, now.first_open, now.rates
    ids = raw.ids
    n = len(ids)
    stage_outcome = {sid: _OUTCOMES.index(out) if out in _OUTCOMES else 0 for sid, out in outcome.items()}
    list_cents = np.zeros(n, dtype=np.int64)
    has_list = np.zeros(n, dtype=np.bool_)
    if len(raw.line_deal) and n:
        pos = np.minimum(np.searchsorted(ids, raw.line_deal), n - 1)
        live = ids[pos] == raw.line_deal
        list_cents[pos[live]] = raw.line_sum[live]
        has_list[pos[live]] = True
    move_id, move_deal, move_to, move_at = raw.move_id, raw.move_deal, raw.move_to, raw.move_at
    raw.move_id = raw.move_deal = raw.move_to = raw.move_at = _NONE
    m = len(move_id)
    move_row = np.minimum(np.searchsorted(ids, move_deal), max(n - 1, 0)) if n else np.zeros(m, np.int64)
    live_move = ids[move_row] == move_deal if n else np.zeros(m, dtype=np.bool_)
    if not live_move.all():  # moves of deals not read (deleted): left out first
        move_id, move_row, move_at, move_to = (a[live_move] for a in (move_id, move_row, move_at, move_to))
    # the moves by deal, then time, then id — one index, so each array is copied once (read in id
    # order, a stable sort of deal and time is that order already, without sorting by id too)
    by_id_already = bool(np.all(move_id[1:] > move_id[:-1]))
    taken = np.lexsort((move_at, move_row) if by_id_already else (move_id, move_at, move_row))
    del move_id, move_deal, live_move
    # each taken in turn, its unsorted self let go before the next (a few million moves each)
    move_row = move_row[taken]
    move_at = move_at[taken]
    move_to = move_to[taken]
    del taken
    amount_changes: dict[int, list[tuple[int, int]]] = defaultdict(list)
    expected_changes: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for changes, into in ((raw.amount_changes, amount_changes), (raw.expected_changes, expected_changes)):
        for did, at, before in changes:
            row = int(np.searchsorted(ids, did))
            if row < n and ids[row] == did:
                into[row].append((at, before))
    book = Book(
        ids=ids,
        pipeline=raw.pipeline,
        created=raw.created,
        closed=raw.closed,
        outcome=_lookup(stage_outcome, raw.stage, 0).astype(np.int8),
        amount=raw.amount,
        list_cents=list_cents,
        has_list=has_list,
        expected=raw.expected,
        currency=tuple(raw.currency),
        move_deal=move_row,
        move_at=move_at,
        move_to=move_to,
        amount_changes=dict(amount_changes),
        expected_changes=dict(expected_changes),
        probability=probability,
        closed_stages=frozenset(sid for sid, out in outcome.items() if out != "open"),
        first_open=first_open,
        rates=rates,
    )
    return _to_home(book, rates)


def _after(t: dt.datetime) -> list[ColumnElement[bool]]:
    """Journal entries after ``t``, found through the journal's index of times (SQLite's planner,
    left alone, walks every change to a deal instead)."""
    then = literal(t, UTCDateTime)
    later = select(pk(JournalEntry.id)).where(col(JournalEntry.at) > then).correlate(None)
    return [col(JournalEntry.at) > then, col(JournalChange.entry_id).in_(later)]


def _between(span: tuple[int, int]) -> Callable[[str], ColumnElement[bool]]:
    """A condition "``column`` is within ``span``" (inclusive), as ``_among`` gives one."""

    def between(column: str) -> ColumnElement[bool]:
        return literal_column(f"{column} BETWEEN {int(span[0])} AND {int(span[1])}")

    return between


def _among(ids: Ints, dialect: str) -> Callable[[str], ColumnElement[bool]]:
    """A condition "``column`` is one of ``ids``", written out (a few tens of thousands of ids at
    most: the deals open at one moment), so no statement looks the deals up again. As one array
    (a JSON one on SQLite), never a long IN list: past a few tens of thousands of values SQLite's
    planner would rather scan the whole table than look each one up in its index."""
    listed = ",".join(map(str, ids.tolist()))
    if dialect == "postgresql":
        values = f"= ANY('{{{listed}}}'::bigint[])"
    else:
        values = f"IN (SELECT value FROM json_each('[{listed}]'))"

    def among(column: str) -> ColumnElement[bool]:  # as written: no bind parameters to look for in it
        return literal_column(f"{column} {values}")

    return among


def _to_home(book: Book, rates: Rates) -> Book:
    """Every deal's amounts in the home currency (rounded per deal: the learned forecast learns
    from amounts, so they must be one currency); a deal in a currency with no rate counts as 0,
    never 1:1, and its currency is named in ``missing``."""
    missing: set[str] = set()
    codes_used = set(book.currency)
    home_codes = {c for c in codes_used if (c or rates.home).upper() == rates.home}
    foreign = [i for i, c in enumerate(book.currency) if c not in home_codes] if home_codes != codes_used else []
    if not foreign:
        return book
    codes = [(c or rates.home).upper() for c in book.currency]
    amount, list_cents = book.amount.copy(), book.list_cents.copy()
    currency = list(book.currency)
    amount_changes = dict(book.amount_changes)
    for i in foreign:
        code = codes[i]
        if rates.rate(code) is None:
            missing.add(code)

        def home(cents: int, code: str = code) -> int:
            return rates.to_home(cents, code) or 0

        amount[i] = home(int(amount[i]))
        if book.has_list[i]:
            list_cents[i] = home(int(list_cents[i]))
        if i in amount_changes:
            amount_changes[i] = [(at, home(before)) for at, before in amount_changes[i]]
        currency[i] = rates.home
    return Book(
        **{
            **{f: getattr(book, f) for f in book.__dataclass_fields__},
            "amount": amount,
            "list_cents": list_cents,
            "currency": tuple(currency),
            "amount_changes": amount_changes,
            "missing": frozenset(missing),
        }
    )


# -- what callers use ----------------------------------------------------------------------------
