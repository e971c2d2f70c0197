"""Columns of a table read straight into numpy arrays, with no Python object per row: on SQLite
each column comes over as comma-joined text, a chunk of rows at a time, parsed by numpy (moments as
fixed-width text straight to microseconds); PostgreSQL computes the numbers itself. What the learned
forecast reads the book with (``forecast_read``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from sqlalchemy import literal_column, select

from crm_tui.metrics.forecast_model import NEVER, Ints, _day, _us
from crm_tui.models import UTC

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql import ClauseElement


def fetch(conn: Connection, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    """Every row of ``stmt`` as the driver gives it (no per-row work of ours or SQLAlchemy's), in
    ``conn``'s transaction."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        return cast("list[tuple[Any, ...]]", cursor.fetchall())
    finally:
        cursor.close()


def _moment_column(column: Any, dialect: str, *, date: bool = False) -> Any:
    """``column`` as the database can best hand it over for arrays: PostgreSQL computes integer
    microseconds (days for a date) itself; SQLite's stored text is parsed by numpy."""
    if dialect != "postgresql":
        return column
    name = str(column.compile(compile_kwargs={"literal_binds": True}))
    if date:
        return literal_column(f"({name} - DATE '1970-01-01')")
    return literal_column(f"CAST(EXTRACT(EPOCH FROM {name}) * 1000000 AS BIGINT)")


def _moments_of(values: Sequence[Any], *, date: bool = False) -> Ints:
    """Integer microseconds (days for dates) of the fetched ``values``; None → NEVER."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    unit = "datetime64[D]" if date else "datetime64[us]"
    sample = next((v for v in values if v is not None), None)
    if sample is None:
        return np.full(len(values), NEVER, dtype=np.int64)
    if isinstance(sample, int):  # computed by the database
        return np.array([NEVER if v is None else v for v in values], dtype=np.int64)
    try:
        parsed = np.array(["NaT" if v is None else v for v in values], dtype=unit).astype(np.int64)
    except ValueError:  # an unusual stored form (a zone suffix): one at a time
        parsed = np.array([_one_moment(v, date) for v in values], dtype=np.int64)
    return np.where(parsed == np.iinfo(np.int64).min, NEVER, parsed)


def _one_moment(value: Any, date: bool) -> int:
    if value is None:
        return NEVER
    if date:
        return _day(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10]))
    t = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return _us(t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC))


#: rows per group_concat read (SQLite): a bounded string however large the table, each chunk
#: parsed into arrays before the next is read, so only one chunk's text is ever in hand
CHUNK = 200_000


def columns(
    conn: Connection, table: str, columns: Sequence[tuple[Any, str]], where: Any, *, whole: bool = False
) -> list[Any]:
    """Each of ``columns`` (an expression of ``table`` and its kind: "int", "moment", "day" or
    "text") over the rows matching ``where``, in one row order: int64 arrays (a moment as
    microseconds, a day as days since 1970, NEVER for none) or, for text, a list of str.

    SQLite hands each column over as one comma-joined string per million rows (``group_concat``,
    every column from the same pass over the rows, so they line up), parsed by numpy: no Python
    object per row. Anything unusual there (a NULL in an int column, a moment not written the
    usual way) is read row by row instead, as every other engine is. ``whole``: in one statement,
    not in chunks of ids (a few rows that ``where`` finds through an index)."""
    if conn.dialect.name == "sqlite":
        joined = _joined_sqlite(conn, table, columns, where, whole)
        if joined is not None:
            return joined
    dialect = conn.dialect.name
    exprs = [c if kind in ("int", "text") else _moment_column(c, dialect, date=kind == "day") for c, kind in columns]
    rows = fetch(conn, select(*exprs).where(where))
    out: list[Any] = []
    for i, (_c, kind) in enumerate(columns):
        values = [r[i] for r in rows]
        if kind == "int":
            out.append(np.array(values, dtype=np.int64).reshape(len(values)))
        elif kind == "text":
            out.append([str(v or "") for v in values])
        else:
            out.append(_moments_of(values, date=kind == "day"))
    return out


def _joined_sqlite(
    conn: Connection, table: str, columns: Sequence[tuple[Any, str]], where: Any, whole: bool = False
) -> list[Any] | None:
    def sql(e: Any) -> str:
        return str(e.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))

    parts, checks = [], []
    for c, kind in columns:
        x = sql(c)
        if kind == "int":
            parts.append(f"group_concat({x}, ',')")
            checks.append(f"count({x})")
        elif kind == "text":
            parts.append(f"group_concat(replace(ifnull({x}, ''), ',', ' '), ',')")
        else:
            parts.append(f"group_concat(ifnull({x}, 'NaT'), ',')")
    cursor = conn.connection.cursor()
    #: per column, the arrays (or, for text, the lists) of each chunk read so far
    pieces: list[list[Any]] = [[] for _ in columns]
    shared: dict[str, str] = {}  # one str object per distinct text value (a currency: a few codes)
    try:
        ranges = [""]
        if not whole:
            # each end its own subquery: SQLite looks one min() or max() up, scans the table for both
            low, high = cursor.execute(
                f"SELECT (SELECT min(id) FROM {table}), (SELECT max(id) FROM {table})"
            ).fetchone()
            starts = range(int(low), int(high) + 1, CHUNK) if low is not None else range(0)
            ranges = [f"{table}.id BETWEEN {start} AND {start + CHUNK - 1} AND " for start in starts]
        for within in ranges:
            row = cursor.execute(
                f"SELECT count(*), {', '.join(parts + checks)} FROM {table} WHERE {within}({sql(where)})"
            ).fetchone()
            count = int(row[0])
            if any(int(k) != count for k in row[1 + len(parts) :]):
                return None  # a NULL in an int column: it would not line up
            if not count:
                continue
            for j, (_c, kind) in enumerate(columns):
                text = row[1 + j]
                if kind == "text":
                    pieces[j].append([shared.setdefault(v, v) for v in text.split(",")])
                    continue
                try:
                    pieces[j].append(parse_joined(text, count, kind))
                except ValueError:
                    return None
            del row, text  # this chunk's strings go before the next chunk's arrive
    finally:
        cursor.close()
    out: list[Any] = []
    for (_c, kind), got in zip(columns, pieces):
        if kind == "text":
            out.append([v for chunk in got for v in chunk])
        else:
            out.append(np.concatenate(got) if got else np.zeros(0, dtype=np.int64))
        got.clear()  # one column's chunks and its whole array in hand at a time, not every column's
    return out


def parse_joined(text: str, count: int, kind: str) -> Ints:
    """``count`` comma-joined values of ``kind`` as an int64 array (ValueError: not as expected)."""
    if kind == "int":
        values = np.fromstring(text, dtype=np.int64, sep=",")
    elif kind == "moment" and len(text) == 27 * count - 1:  # all written the usual way, to the microsecond
        raw = np.frombuffer((text + ",").encode("ascii"), dtype=np.uint8).reshape(count, 27)
        if not np.all(raw[:, 26] == ord(",")):
            raise ValueError("not fixed width")
        fixed = np.ascontiguousarray(raw[:, :26]).view("S26").reshape(count)
        values = fixed.astype("datetime64[us]").astype(np.int64)
    else:
        unit = "datetime64[D]" if kind == "day" else "datetime64[us]"
        values = np.array(text.split(","), dtype=unit).astype(np.int64)
    if len(values) != count:
        raise ValueError("a value did not parse")
    if kind != "int":
        values = np.where(values == np.iinfo(np.int64).min, NEVER, values)
    return values
