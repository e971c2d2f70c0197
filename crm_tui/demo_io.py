"""Fast, typed bulk writing for the demo generator.

``Writer`` prepares one INSERT per table (compiled by SQLAlchemy for the
connection's dialect) and sends tuples with a single ``executemany`` per
batch. Values are converted by the columns' own types: ``Stamper`` turns
minute offsets from ``now`` into exactly what the ``UTCDateTime`` type would
bind (checked against the type at start-up), with caching so millions of
timestamps cost little. ``indexes_deferred`` rebuilds secondary indexes once
after the load; ``built_ahead`` builds the next chunk in a forked helper.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import queue
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from sqlalchemy import bindparam, inspect
from sqlmodel import SQLModel

from crm_tui import models

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    from sqlalchemy import Connection, Index
    from sqlalchemy.engine import Dialect

#: one row as the generator builds it: the table's FIELDS in order
TableRow: TypeAlias = tuple[object, ...]
#: a chunk of rows per table, as ``built_ahead`` hands them over
Chunk: TypeAlias = Mapping[str, Sequence[TableRow]]
#: a column type's bind processor: driver values in, driver values out (any type the driver takes)
_BindProc: TypeAlias = Callable[[Any], Any]

# Column order of the tuples the generator builds, per table, in foreign-key order.
FIELDS = {
    "product": ("id", "name", "name_key", "unit_price_cents", "currency", "code", "external_id", "created_at"),
    "customer": (
        "id",
        "name",
        "name_key",
        "kind",
        "email",
        "phone",
        "website",
        "industry",
        "tags",
        "owner",
        "source",
        "status",
        "external_id",
        "created_at",
        "updated_at",
        "deleted_at",
        "version",
    ),
    "contact": (
        "id",
        "customer_id",
        "name",
        "title",
        "email",
        "phone",
        "external_id",
        "created_at",
        "updated_at",
        "deleted_at",
        "version",
    ),
    "deal": (
        "id",
        "title",
        "customer_id",
        "pipeline_id",
        "stage_id",
        "amount_cents",
        "currency",
        "probability",
        "expected_close",
        "owner",
        "lost_reason",
        "external_id",
        "created_at",
        "updated_at",
        "stage_entered_at",
        "closed_at",
        "deleted_at",
        "version",
    ),
    "deal_product": ("id", "deal_id", "product_id", "quantity", "unit_price_cents"),
    "stage_change": ("id", "deal_id", "from_stage_id", "to_stage_id", "at", "by"),
    "task": (
        "id",
        "kind",
        "subject",
        "due_at",
        "done_at",
        "priority",
        "customer_id",
        "deal_id",
        "owner",
        "notes",
        "external_id",
        "created_at",
        "updated_at",
        "deleted_at",
        "version",
        "outcome",
    ),
    "note": ("id", "customer_id", "deal_id", "body", "author", "created_at", "deleted_at"),
    "sales_order": (
        "id",
        "number",
        "customer_id",
        "deal_id",
        "status",
        "owner",
        "created_at",
        "approved_at",
        "fulfilled_at",
        "cancelled_at",
        "updated_at",
        "version",
        "currency",
    ),
    "order_line": ("id", "order_id", "product_id", "quantity", "unit_price_cents"),
}
TABLES = tuple(name for name in FIELDS if name != "product")
BATCH = 50_000  # rows per executemany call


class Writer:
    """Prepared INSERTs for the demo tables on one connection; counts rows written."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.counts = {name: 0 for name in FIELDS}
        #: per table: (SQL, positional?, fields, parameter order if not the fields', converters)
        self.plans: dict[str, tuple[str, bool, tuple[str, ...], list[int] | None, list[tuple[int, _BindProc]]]] = {}
        dialect = conn.dialect
        for name, fields in FIELDS.items():
            table = SQLModel.metadata.tables[name]
            stmt = table.insert().values({f: bindparam(f, type_=table.c[f].type) for f in fields})
            compiled = stmt.compile(dialect=dialect)
            # Timestamps and dates arrive already converted (Stamper); any other column whose
            # type converts values on this dialect is converted here.
            procs: list[tuple[int, _BindProc]] = []
            for i, f in enumerate(fields):
                type_ = table.c[f].type
                if isinstance(type_, models.UTCDateTime) or f == "expected_close":
                    continue
                proc = type_.dialect_impl(dialect).bind_processor(dialect)
                if proc is not None:
                    procs.append((i, proc))
            order = None
            if compiled.positional:
                names = list(cast("list[str]", compiled.positiontup))  # cast only: set when positional
                if names != list(fields):
                    order = [fields.index(n) for n in names]
            self.plans[name] = (compiled.string, compiled.positional, fields, order, procs)

    def write(self, name: str, rows: Sequence[TableRow]) -> None:
        if not rows:
            return
        sql, positional, fields, order, procs = self.plans[name]
        if procs:
            rows = [_convert(row, procs) for row in rows]
        if order is not None:
            rows = [tuple(row[i] for i in order) for row in rows]
        params: Sequence[TableRow] | list[dict[str, object]] = rows
        if not positional:
            params = [dict(zip(fields, row)) for row in rows]
        for start in range(0, len(params), BATCH):
            self.conn.exec_driver_sql(sql, params[start : start + BATCH])
        self.counts[name] += len(params)


def _convert(row: TableRow, procs: list[tuple[int, _BindProc]]) -> TableRow:
    values = list(row)
    for i, proc in procs:
        if values[i] is not None:
            values[i] = proc(values[i])
    return tuple(values)


@contextmanager
def indexes_deferred(
    conn: Connection, names: Iterable[str], built: Callable[[int, int], None] | None = None
) -> Iterator[None]:
    """Drop the tables' secondary indexes for a bulk load and build them again afterwards.

    Building an index once over the loaded rows costs a fraction of keeping it up to
    date row by row. DDL is transactional on SQLite and PostgreSQL, so a load that
    fails rolls back with its indexes as they were.
    """
    insp = inspect(conn)
    dropped: list[Index] = []
    for name in names:
        existing = {ix["name"] for ix in insp.get_indexes(name)}
        # cast only: every index of the models is named
        for index in sorted(SQLModel.metadata.tables[name].indexes, key=lambda ix: cast(str, ix.name)):
            if index.name in existing:
                index.drop(conn)
                dropped.append(index)
    yield
    for i, index in enumerate(dropped):
        index.create(conn)
        if built is not None:
            built(i + 1, len(dropped))


def built_ahead(make: Callable[[int], Chunk], sizes: list[int]) -> Iterator[Chunk]:
    """``make(n)`` for each size, in order.

    With several chunks on a POSIX system the chunks are built in a forked helper
    process while this one writes the previous chunk, so generation and SQLite use
    both cores (a thread would not help: SQLite's per-row GIL release makes the two
    threads take turns). The helper continues the very same generator state (fork), so the
    rows are identical to building them here; at most two chunks wait in between.
    """
    if len(sizes) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(make, sizes)
        return
    ctx = multiprocessing.get_context("fork")
    q: Queue[Chunk | str] = ctx.Queue(maxsize=2)
    proc = ctx.Process(target=_produce, args=(make, sizes, q, os.getpid()), name="crm-demo-generator", daemon=True)
    proc.start()
    try:
        for _ in sizes:
            while True:
                try:
                    item = q.get(timeout=0.5)
                    break
                except queue.Empty:
                    if not proc.is_alive():
                        raise RuntimeError(f"the demo generator process stopped (exit code {proc.exitcode})") from None
            if isinstance(item, str):
                raise RuntimeError(item)
            yield item
        proc.join()
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join()
        q.close()


def _produce(make: Callable[[int], Chunk], sizes: list[int], q: Queue[Chunk | str], parent: int) -> None:
    """The forked helper: build and hand over chunks; stop if the parent has gone (kill -9)."""
    try:
        for n in sizes:
            item = make(n)
            while True:
                try:
                    q.put(item, timeout=0.5)
                    break
                except queue.Full:
                    if os.getppid() != parent:
                        q.cancel_join_thread()  # nobody will read the chunks still in the pipe
                        return
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        q.put(f"demo generation failed: {exc!r}", timeout=5)


class Stamper:
    """Whole minutes relative to ``now`` → the value the UTCDateTime type binds.

    On SQLite the bound value is text, and text for a minute is a day part plus
    a time-of-day part; both are cached. The shortcut is used only when it
    reproduces the type's own conversion on a spread of sample minutes;
    otherwise every distinct minute goes through the type (memoised).
    """

    def __init__(self, now: dt.datetime, dialect: Dialect) -> None:
        self.now = now
        self.today_start = -(now.hour * 60 + now.minute)
        utc_type = models.UTCDateTime()
        self._proc: _BindProc = utc_type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
        date_type = SQLModel.metadata.tables["deal"].c.expected_close.type
        self._date_proc: _BindProc = date_type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
        self._midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        self._base = now.hour * 60 + now.minute
        self._frac = dt.timedelta(seconds=now.second, microseconds=now.microsecond)
        self._days: dict[int, str] = {}
        self._times: dict[int, str] = {}
        self._memo: dict[int, object] = {}
        self._dates: dict[int, object] = {}
        self._split: int | None = None
        sample = self._proc(now)
        if isinstance(sample, str) and len(sample) > 11 and sample[10] == " ":
            self._split = 11
            probes = [-(1 << k) + k * 7919 for k in range(1, 21)] + [0, 1, -1, 59, 1439, 1440, -1441, 44 * 1440]
            if any(self._composed(m) != self._proc(now + dt.timedelta(minutes=m)) for m in probes):
                self._split = None
        self._days.clear()
        self._times.clear()
        if self._split is not None:
            self.minutes = self._fast()  # type: ignore[method-assign,assignment]  # faster path shadows the method

    def _fast(self) -> Callable[[int], object]:
        """A closure over precomputed day and time-of-day parts (≈ 2.5 years back, 200 days ahead)."""
        lo, hi = -950, 200
        days = [self._composed(d * 1440 - self._base)[: self._split] for d in range(lo, hi)]
        times = [self._composed(minute - self._base)[self._split :] for minute in range(1440)]
        base, n, composed = self._base, hi - lo, self._composed

        def minutes(m: int) -> object:
            day, minute = divmod(base + m, 1440)
            i = day - lo
            if 0 <= i < n:
                return days[i] + times[minute]
            return composed(m)

        return minutes

    def _composed(self, m: int) -> str:
        day, minute = divmod(self._base + m, 1440)
        d = self._days.get(day)
        if d is None:
            d = self._days[day] = self._proc(self._midnight + dt.timedelta(days=day))[: self._split]
        t = self._times.get(minute)
        if t is None:
            t = self._times[minute] = self._proc(self._midnight + dt.timedelta(minutes=minute) + self._frac)[
                self._split :
            ]
        return d + t

    def minutes(self, m: int) -> object:
        """Bound value for ``now + m minutes`` (replaced by a faster closure when possible)."""
        got = self._memo.get(m)
        if got is None:
            got = self._memo[m] = self._proc(self.now + dt.timedelta(minutes=m))
        return got

    def day(self, days: int) -> object:
        """Bound value for the date ``days`` after today."""
        got = self._dates.get(days)
        if got is None:
            got = self._dates[days] = self._date_proc((self.now + dt.timedelta(days=days)).date())
        return got
