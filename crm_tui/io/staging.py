"""An import is staged outside the live tables, then merged in one short write transaction.

Why: a file used to be read, matched and written inside one write transaction, holding
SQLite's only write lock for the whole run — longer than the busy timeout every other
session waits, so a rep's saves failed with "database is locked" next to a big import.

How:

1. **Staging** (``Staging``, driven by the kind's writer): on the import's own connection,
   in one read snapshot, each row the import would write goes to a temporary table
   ``crm_stage_<table>`` private to that connection (the live table's columns, plus
   ``crm_op``: ``i`` insert / ``u`` update, ``crm_cols``: the columns an update sets, and
   ``crm_version``: the version the updated row had). Records to create get local ids
   (-1, -2, …) that other staged rows refer to. A read snapshot takes no write lock (WAL
   readers never block writers; temporary tables live outside the database file).
2. **Merge** (``merge_staged_import``), in one write transaction: it checks that nothing
   staging relied on has changed since its snapshot, then copies the staged rows with
   ``INSERT … SELECT`` and ``UPDATE … = (SELECT …)``, giving new records their real ids.
   All or nothing stays the promise: the file is in the database after that commit, or
   none of it is.

When another session changed what staging read (a customer of the same name created, a
deal the file updates edited), the merge raises ``StaleStaging`` and writes nothing; the
import stages again from a fresh snapshot. A killed import leaves nothing to clean: the
staging tables vanish with its connection (SQLite deletes its temporary file, PostgreSQL
drops temporary tables when the session ends).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import case, func, or_, select, text
from sqlalchemy import exc as sa_exc

from crm_tui import engines, models

PREFIX = "crm_stage_"
DELETES = "crm_stage_delete"
CHUNK = 5000

#: How a staged new record was judged new: no existing row had these columns (only rows not
#: deleted counted where True). Re-checked by the merge when the table changed meanwhile, so
#: a record another session created during the import is not created a second time.
NEW_ROW_KEYS: dict[str, tuple[tuple[tuple[str, ...], bool], ...]] = {
    "customer": ((("external_id",), True), (("name_key",), True)),
    "contact": ((("external_id",), True),),
    "product": ((("external_id",), False), (("name_key",), False)),
    "deal": ((("external_id",), False),),
    "task": ((("external_id",), True),),
    "sales_order": ((("number",), False),),
    "pipeline": ((("name",), False),),
    "stage": ((("pipeline_id", "name"), False),),
}


class StaleStaging(Exception):
    """Another session changed what the staged rows rely on; nothing was written: stage again."""


def _table(name: str) -> Any:
    from sqlmodel import SQLModel

    return SQLModel.metadata.tables[name]


class Staging:
    """The staged rows of one import attempt, on ``conn`` (see the module docstring).

    Writers call ``insert``, ``update`` and ``delete_in`` where they used to write to the
    live tables, and read the live tables through ``conn`` as before.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.snapshot = 0
        self.inserts: dict[str, int] = {}
        self.updates: dict[str, set[str]] = {}  # table → the column lists its updates set
        self.unversioned: set[str] = set()  # tables updated without a version to check
        self.deletes: set[tuple[str, str]] = set()
        #: after the merge: each table's first real id; a staged new row's id is start - 1 - local id
        self.starts: dict[str, int] = {}
        self._local: dict[str, int] = {}
        self._made: list[str] = []

    # -- the snapshot ------------------------------------------------------------------

    def start(self) -> None:
        """Note where the change log stands; the first read of the staging transaction."""
        self.snapshot = int(self.conn.execute(select(func.coalesce(func.max(models.ChangeLog.id), 0))).scalar())

    def finish(self) -> None:
        """Index the staged rows for the merge's look-ups (outside the write lock)."""
        for name in self.inserts.keys() | self.updates.keys():
            self.conn.exec_driver_sql(f"CREATE INDEX {PREFIX}{name}_id ON {PREFIX}{name} (id)")
            engines.analyze(self.conn, f"{PREFIX}{name}")

    # -- what writers call -------------------------------------------------------------

    def local_ids(self, table: Any, count: int) -> list[int]:
        """``count`` ids for records ``table`` will get; the merge turns them into real ones."""
        last = self._local.get(table.name, 0)
        self._local[table.name] = last - count
        return list(range(last - 1, last - count - 1, -1))

    def insert(self, table: Any, rows: list[dict[str, Any]], *, tick: Callable[[int], None] | None = None) -> list[int]:
        """Stage new records of ``table`` (a row may carry a local ``id`` already); → their ids."""
        if not rows:
            return []
        self._ensure(table)
        defaults = _defaults(table)
        missing = [r for r in rows if r.get("id") is None]
        for row, local in zip(missing, self.local_ids(table, len(missing))):
            row["id"] = local
        for row in rows:
            for key, value in defaults.items():
                row.setdefault(key, value)
            row.update(crm_op="i", crm_cols=None, crm_version=None)
        for pos in range(0, len(rows), CHUNK):
            self._write(table, rows[pos : pos + CHUNK])
            if tick is not None:
                tick(pos + CHUNK)
        self.inserts[table.name] = self.inserts.get(table.name, 0) + len(rows)
        return [int(r["id"]) for r in rows]

    def insert_columns(
        self,
        table: Any,
        columns: dict[str, list[Any]],
        *,
        constants: dict[str, Any] | None = None,
        tick: Callable[[int], None] | None = None,
    ) -> list[int]:
        """``insert`` for rows given column by column: ``columns`` maps a column to its values,
        one per row, as the driver takes them (``driver_values``); ``constants`` a column to one
        value for every row (converted here). A big file's rows go to the staging table without
        a dict per row. → their (local) ids."""
        n = len(next(iter(columns.values()), []))
        if not n:
            return []
        self._ensure(table)
        cols = dict(columns)
        if "id" not in cols:
            cols["id"] = self.local_ids(table, n)
        fixed = {k: v for k, v in _defaults(table).items() if k not in cols}
        fixed.update(constants or {})
        fixed.update(crm_op="i", crm_cols=None, crm_version=None)
        sqlite = engines.is_sqlite(self.conn.dialect)
        fixed = {k: _driver_scalar(v, sqlite) for k, v in fixed.items() if k not in cols}
        quote = self.conn.dialect.identifier_preparer.quote
        literal: dict[str, str] = {}
        if sqlite:
            # SQLite: a value every row shares is written into the statement once instead of
            # bound for each row (binding is most of the cost of a wide row)
            shared = {k: v for k, v in cols.items() if k != "id" and v.count(v[0]) == n}
            shared.update(fixed)
            literal = {k: text for k, v in shared.items() if (text := _sqlite_literal(v[0] if k in cols else v))}
        bound = [k for k in cols if k not in literal]
        extra = [k for k in fixed if k not in literal]
        names = [*bound, *extra, *literal]
        values = [_marks(self.conn, 1)] * (len(bound) + len(extra)) + list(literal.values())
        sql = f"INSERT INTO {PREFIX}{table.name} ({', '.join(quote(c) for c in names)}) VALUES ({', '.join(values)})"
        rows = zip(*(cols[k] for k in bound), *(itertools.repeat(fixed[k]) for k in extra))
        for pos in range(0, n, CHUNK):
            self.conn.exec_driver_sql(sql, list(itertools.islice(rows, CHUNK)))
            if tick is not None:
                tick(pos + CHUNK)
        self.inserts[table.name] = self.inserts.get(table.name, 0) + n
        return [int(i) for i in cols["id"]]

    def insert_derived(
        self,
        table: Any,
        source: Any,
        source_ids: list[int],
        columns: dict[str, str],
        *,
        constants: dict[str, Any] | None = None,
    ) -> list[int] | None:
        """Stage one new record of ``table`` for each new record of ``source`` staged with the
        local ids ``source_ids`` (in that order), in one ``INSERT … SELECT`` from its staging
        table: ``columns`` maps a column of ``table`` to the ``source`` column (or ``"id"``) its
        value is copied from; ``constants`` gives a column one value for every row. → the new
        rows' local ids, or None (nothing staged) when ``source_ids`` are not one run of ids
        staged together (then the caller stages the rows itself)."""
        n = len(source_ids)
        if not n:
            return []
        first = source_ids[0]
        if source_ids != list(range(first, first - n, -1)):
            return None
        self._ensure(table)
        ids = self.local_ids(table, n)
        fixed = {k: v for k, v in _defaults(table).items() if k not in columns}
        fixed.update(constants or {})
        fixed.update(crm_op="i", crm_cols=None, crm_version=None)
        dialect = self.conn.dialect
        sqlite = engines.is_sqlite(dialect)
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        staged = _staged_table(table)
        names = ["id", *columns, *fixed]
        picks = [f"s.id + {ids[0] - first}", *(f"s.{quote(c)}" for c in columns.values())]
        picks += [f"CAST({mark} AS {staged.c[c].type.compile(dialect=dialect)})" for c in fixed]
        self.conn.exec_driver_sql(
            f"INSERT INTO {PREFIX}{table.name} ({', '.join(quote(c) for c in names)}) "
            f"SELECT {', '.join(picks)} FROM {PREFIX}{source.name} s "
            f"WHERE s.crm_op = 'i' AND s.id BETWEEN {first - n + 1} AND {first}",
            tuple(_driver_scalar(v, sqlite) for v in fixed.values()),
        )
        self.inserts[table.name] = self.inserts.get(table.name, 0) + n
        return ids

    def update(self, table: Any, rows: Iterable[dict[str, Any]]) -> None:
        """Stage changes to existing records: each row is ``b_id`` and the columns to set. In a
        table with versions, ``version`` is the new one; the merge checks the old one still holds."""
        staged = []
        versioned = "version" in table.c
        for rec in rows:
            row = dict(rec)
            record_id = row.pop("b_id")
            cols = ",".join(sorted(row))
            expected = row["version"] - 1 if versioned and "version" in row else None
            if expected is None:
                self.unversioned.add(table.name)
            self.updates.setdefault(table.name, set()).add(cols)
            staged.append({**row, "id": record_id, "crm_op": "u", "crm_cols": cols, "crm_version": expected})
        if staged:
            self._ensure(table)
            self._write(table, staged)

    def delete_in(self, table: Any, column: str, values: Iterable[int]) -> None:
        """Stage deleting the rows of ``table`` whose ``column`` is one of ``values``."""
        rows = [{"tbl": table.name, "col": column, "val": int(v)} for v in values]
        if not rows:
            return
        if not self.deletes:
            self.conn.exec_driver_sql(f"CREATE TEMP TABLE {DELETES} (tbl VARCHAR(64), col VARCHAR(64), val BIGINT)")
            self._made.append(DELETES)
        self.deletes.add((table.name, column))
        self.conn.exec_driver_sql(
            f"INSERT INTO {DELETES} (tbl, col, val) VALUES ({_marks(self.conn, 3)})",
            [(r["tbl"], r["col"], r["val"]) for r in rows],
        )

    # -- the merge ---------------------------------------------------------------------

    def changed_tables(self, conn: Any) -> set[str]:
        """Tables other sessions changed since the staging snapshot (from the change log)."""
        rows = conn.execute(select(models.ChangeLog.tables).where(models.ChangeLog.id > self.snapshot)).scalars()
        return {name for names in rows for name in names.split(",") if name}

    def check_current(self, conn: Any, changed: set[str]) -> None:
        """Raise ``StaleStaging`` when a table the import writes changed in a way that matters:
        an updated row has another version now (or is gone), an updated row of a table without
        versions may have changed, or a record staged as new now exists."""
        for name in sorted((self.inserts.keys() | self.updates.keys()) & changed):
            table = _table(name)
            if name in self.unversioned:
                raise StaleStaging(f"{name} changed while the import was staged")
            if name in self.updates and _found(conn, _version_moved(conn, table)):
                raise StaleStaging(f"a {name} the import updates was changed meanwhile")
            if name in self.inserts:
                for keys, live_only in NEW_ROW_KEYS.get(name, ()):
                    if _found(conn, _key_taken(conn, table, keys, live_only)):
                        raise StaleStaging(f"a {name} the import creates was created meanwhile")

    def reserve(self, conn: Any) -> None:
        """Each table's block of real ids for its new rows (``starts``), taken before anything
        is removed: a new record never gets the id of one the import removes (SQLite hands
        out max(id) + 1), so the journal can tell them apart and an undo can bring the old one
        back while the new one goes."""
        from sqlmodel import SQLModel

        for table in SQLModel.metadata.sorted_tables:
            count = self.inserts.get(table.name, 0)
            if count:
                self.starts[table.name] = engines.reserve_ids(conn, table, count)

    def apply(self, conn: Any) -> None:
        """Deletes first, then each table parents first: inserts with real ids, then updates
        (after ``reserve``)."""
        quote = conn.dialect.identifier_preparer.quote
        for name, column in sorted(self.deletes):
            conn.execute(
                text(
                    f"DELETE FROM {quote(name)} WHERE {quote(column)} IN "
                    f"(SELECT val FROM {DELETES} WHERE tbl = :t AND col = :c)"
                ),
                {"t": name, "c": column},
            )
        starts = self.starts
        from sqlmodel import SQLModel

        for table in SQLModel.metadata.sorted_tables:
            if self.inserts.get(table.name, 0):
                cols = [c for c in table.c]
                conn.exec_driver_sql(
                    f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in cols)}) "
                    f"SELECT {', '.join(_value(quote, table, c, starts) for c in cols)} "
                    f"FROM {PREFIX}{table.name} s WHERE s.crm_op = 'i' ORDER BY s.id DESC"
                )
            for group in sorted(self.updates.get(table.name, ())):
                _apply_updates(conn, quote, table, group, starts)

    def touched_deals(self) -> str | None:
        """SQL selecting the ids of every deal the merge creates or changes, its own rows or its
        history (after ``reserve``; new deals' ids exist once applied), or None when it touches none."""
        starts = self.starts
        parts = []
        if "deal" in self.updates:
            parts.append(f"SELECT id FROM {PREFIX}deal WHERE crm_op = 'u'")
        if self.inserts.get("deal"):
            parts.append(f"SELECT {starts['deal'] - 1} - id FROM {PREFIX}deal WHERE crm_op = 'i'")
        if self.inserts.get("stage_change"):
            deal = (
                "deal_id"
                if "deal" not in starts
                else f"CASE WHEN deal_id < 0 THEN {starts['deal'] - 1} - deal_id ELSE deal_id END"
            )
            parts.append(f"SELECT {deal} FROM {PREFIX}stage_change WHERE crm_op = 'i'")
        return " UNION ".join(parts) if parts else None

    # -- the journal ---------------------------------------------------------------------

    def updated_values(self, conn: Any) -> list[Any]:
        """The records the merge will update whose values really change (bookkeeping aside):
        ``journal.Change`` updates with each changed field's old and new value (after
        ``reserve``, before ``apply``). Re-importing a file updates every row it matches;
        most of them usually keep their values and are no change worth a journal line."""
        from crm_tui import journal as jr

        changes: list[Any] = []
        for name in sorted(self.updates):
            table = _table(name)
            staged = _staged_table(table)
            for group in sorted(self.updates[name]):
                cols = group.split(",")
                fields = [c for c in cols if c not in jr.BOOKKEEPING]
                if not fields:
                    continue
                new = {c: _mapped(table, staged, c, self.starts) for c in cols}
                query = (
                    select(table.c.id, *(table.c[c] for c in cols), *(new[c].label(f"new_{c}") for c in cols))
                    .join(staged, staged.c.id == table.c.id)
                    .where(
                        staged.c.crm_op == "u",
                        staged.c.crm_cols == group,
                        or_(*(table.c[c].is_distinct_from(new[c]) for c in fields)),
                    )
                )
                for row in conn.execute(query).mappings():
                    changed = [c for c in fields if jr.encode({c: row[c]}) != jr.encode({c: row[f"new_{c}"]})]
                    if not changed:
                        continue
                    keys = changed + [c for c in cols if c in jr.BOOKKEEPING]
                    before = {c: row[c] for c in keys}
                    after = {c: row[f"new_{c}"] for c in keys}
                    changes.append(jr.Change(name, int(row["id"]), "update", before, after))
        return changes

    def removed_count(self, conn: Any) -> int:
        """How many live rows the merge's deletes remove (before ``apply``)."""
        total = 0
        for name, column in sorted(self.deletes):
            quote = conn.dialect.identifier_preparer.quote
            total += int(
                conn.execute(
                    text(
                        f"SELECT count(*) FROM {quote(name)} WHERE {quote(column)} IN "
                        f"(SELECT val FROM {DELETES} WHERE tbl = :t AND col = :c)"
                    ),
                    {"t": name, "c": column},
                ).scalar()
            )
        return total

    def journal(self, conn: Any, entry_id: int) -> None:
        """Journal, under ``entry_id``, the records the merge makes (their ids: the values are
        the record itself, and each later change is journaled with its own old values) and the
        ones it removes (all their values, for an undo to bring back), in a statement per
        table, before ``apply``."""
        quote = conn.dialect.identifier_preparer.quote
        for name in sorted(self.inserts):
            table = _table(name)
            conn.execute(
                text(
                    "INSERT INTO journal_change (entry_id, table_name, record_id, op, before, after) "
                    f"SELECT :e, :t, {_value(quote, table, table.c.id, self.starts)}, 'insert', NULL, NULL "
                    f"FROM {PREFIX}{name} s WHERE s.crm_op = 'i' ORDER BY s.id DESC"
                ),
                {"e": entry_id, "t": name},
            )
        for name, column in sorted(self.deletes):
            table = _table(name)
            conn.execute(
                text(
                    "INSERT INTO journal_change (entry_id, table_name, record_id, op, before, after) "
                    f"SELECT :e, :name, x.id, 'delete', {engines.row_json(table, 'x', conn.dialect)}, NULL "
                    f"FROM {quote(name)} x WHERE x.{quote(column)} IN "
                    f"(SELECT val FROM {DELETES} WHERE tbl = :t AND col = :c) ORDER BY x.id"
                ),
                {"e": entry_id, "name": name, "t": name, "c": column},  # PostgreSQL types each use apart
            )

    def drop(self) -> None:
        """Remove the staging tables (the connection goes back to the pool afterwards)."""
        with self.conn.begin():
            for name in self._made:
                self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        self._made.clear()

    # -- helpers -----------------------------------------------------------------------

    def _ensure(self, table: Any) -> None:
        name = PREFIX + table.name
        if name in self._made:
            return
        quote = self.conn.dialect.identifier_preparer.quote
        cols = ", ".join(quote(c.name) for c in table.c)
        self.conn.exec_driver_sql(
            f"CREATE TEMP TABLE {name} AS SELECT {cols}, CAST(NULL AS VARCHAR(1)) AS crm_op, "
            f"CAST(NULL AS TEXT) AS crm_cols, CAST(NULL AS BIGINT) AS crm_version FROM {quote(table.name)} WHERE 1 = 0"
        )
        self._made.append(name)

    def _write(self, table: Any, rows: list[dict[str, Any]]) -> None:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(row)
        for group in groups.values():
            engines.bulk_insert_rows(self.conn, table, group, name=PREFIX + table.name)


@contextmanager
def staging(conn: Any) -> Iterator[Staging]:
    """A ``Staging`` on ``conn`` whose tables are dropped afterwards, whatever happens."""
    staged = Staging(conn)
    try:
        yield staged
    finally:
        if conn.in_transaction():
            conn.rollback()
        staged.drop()


def merge_staged_import(session: Any, staged: Staging, action: Any = None) -> None:
    """The import's one write transaction: check the staged rows still hold, then write them.

    ``session`` is the open write session of ``Database.write`` on the import's connection
    (SQLite: under BEGIN IMMEDIATE). ``action`` (a ``journal.Action``): the import is journaled
    as that one action, in this transaction, with every record it makes, updates or removes
    (``Staging.journal``, ``Staging.updated_values``); an import that changes nothing writes
    no journal entry. Raises ``StaleStaging`` — nothing written, stage again — when another
    session changed what staging relied on.
    """
    from crm_tui import journal as jr
    from crm_tui import kept

    conn = session.connection()
    changed = staged.changed_tables(conn)
    staged.check_current(conn, changed)
    try:
        with engines.long_statements(conn):  # a big file's INSERT … SELECT may take a while
            staged.reserve(conn)
            if action is not None:
                updates = staged.updated_values(conn)
                tables = set(staged.inserts) | {c.table for c in updates} | {name for name, _ in staged.deletes}
                if staged.inserts or updates or staged.removed_count(conn):
                    jr.declare(session, action)
                    entry_id = jr.open_entry(session, tables)
                    staged.journal(conn, entry_id)
                    jr.insert_changes(session, entry_id, updates)
            touched = staged.touched_deals()
            if touched is None:
                staged.apply(conn)
            else:  # the kept figures of the deals it touches, set-based, not a trigger per row
                with kept.bulk(conn, touched):
                    staged.apply(conn)
    except sa_exc.IntegrityError as exc:
        # a record staging matched was deleted, a unique name taken, or (PostgreSQL) an id of
        # the reserved block taken by another session, meanwhile
        if changed or engines.is_id_clash(exc):
            raise StaleStaging("a record the import refers to changed meanwhile") from None
        raise


# -- values as the driver takes them -------------------------------------------------------


def _driver_scalar(value: Any, sqlite: bool) -> Any:
    """One value as ``engines.bulk_insert_rows`` converts it (SQLite: UTC text, ISO dates)."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC)
        if not sqlite:
            return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat() if sqlite else value
    return value


def _sqlite_literal(value: Any) -> str:
    """``value`` as an SQLite literal that stores exactly what binding it stores ('' when it
    has none here: it is bound)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return ""


def driver_values(series: Any, dialect: Any) -> list[Any]:
    """A pandas column → a list of values as ``engines.bulk_insert_rows`` would pass them to the
    driver: None for missing, Python ints, UTC timestamps and dates converted per engine. Times
    and dates are converted once per distinct value (a file's 100,000 rows hold a few hundred)."""
    import datetime as dt

    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        values = engines.bulk_timestamps(pd.Series(uniques, dtype=series.dtype), dialect)
        return [None if c < 0 else values[c] for c in codes.tolist()] if len(values) else [None] * len(codes)
    values = series.astype(object).where(series.notna(), None).to_numpy(dtype=object).tolist()
    sample = next((v for v in values if v is not None), None)
    if not isinstance(sample, dt.date):  # as bulk_insert_rows decides: by the first value
        return values
    sqlite = engines.is_sqlite(dialect)
    seen: dict[Any, Any] = {}
    return [_driver_time(v, seen, sqlite) for v in values]


def _driver_time(value: Any, seen: dict[Any, Any], sqlite: bool) -> Any:
    """A date or time among other values, converted once per distinct value."""
    import datetime as dt

    if isinstance(value, dt.date):
        out = seen.get(value)
        if out is None:
            out = seen[value] = _driver_scalar(value, sqlite)
        return out
    return value


# -- SQL pieces ----------------------------------------------------------------------------


def _defaults(table: Any) -> dict[str, Any]:
    """Column defaults the live insert would have filled in (``INSERT … SELECT`` copies NULLs)."""
    out = {}
    for column in table.c:
        default = column.default
        if column.name == "id" or default is None:
            continue
        out[column.name] = default.arg if default.is_scalar else default.arg(None)
    return out


def _value(quote: Callable[[str], str], table: Any, column: Any, starts: dict[str, int]) -> str:
    """The staged column as the live table stores it: local ids (< 0) become real ones."""
    name = f"s.{quote(column.name)}"
    if column.name == "id" and table.name in starts:
        return f"{starts[table.name] - 1} - {name}"
    for fk in column.foreign_keys:
        target = fk.column.table.name
        if target in starts:
            return f"CASE WHEN {name} < 0 THEN {starts[target] - 1} - {name} ELSE {name} END"
    return name


def _staged_table(table: Any) -> Any:
    """The staging table of ``table`` for SQLAlchemy queries: the live columns and their types
    (a time read from it is a UTC datetime, as from the live table), plus the staging columns."""
    from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text

    return Table(
        PREFIX + table.name,
        MetaData(),
        *(Column(c.name, c.type) for c in table.c),
        Column("crm_op", String(1)),
        Column("crm_cols", Text),
        Column("crm_version", BigInteger),
    )


def _mapped(table: Any, staged: Any, name: str, starts: dict[str, int]) -> Any:
    """``_value`` for SQLAlchemy queries: the staged column with local ids made real."""
    column = staged.c[name]
    for fk in table.c[name].foreign_keys:
        target = fk.column.table.name
        if target in starts:
            return case((column < 0, starts[target] - 1 - column), else_=column)
    return column


def _apply_updates(conn: Any, quote: Callable[[str], str], table: Any, group: str, starts: dict[str, int]) -> None:
    """One group of staged updates (same columns set). Rows whose indexed columns keep their
    values get only the other columns: SQLite rewrites every index an UPDATE names even when
    the value is the same, which made re-importing an unchanged file the slowest merge."""
    cols = [table.c[name] for name in group.split(",")]
    indexed = _indexed_columns(table)
    heavy = [c for c in cols if c.name in indexed]
    light = [c for c in cols if c.name not in indexed]
    if not heavy:
        _update_rows(conn, quote, table, group, cols, starts, "")
        return
    live = quote(table.name)
    differs = " OR ".join(
        engines.differs(_value(quote, table, c, starts), f"{live}.{quote(c.name)}", conn.dialect) for c in heavy
    )
    _update_rows(conn, quote, table, group, cols, starts, f"AND ({differs})")
    if light:
        _update_rows(conn, quote, table, group, light, starts, f"AND NOT ({differs})")


def _update_rows(
    conn: Any, quote: Callable[[str], str], table: Any, group: str, cols: list[Any], starts: dict[str, int], where: str
) -> None:
    sets = [(quote(c.name), _value(quote, table, c, starts)) for c in cols]
    pick = f"s.crm_op = 'u' AND s.crm_cols = :g {where}"
    sql = engines.update_from_staged(quote(table.name), f"{PREFIX}{table.name}", sets, pick, conn.dialect)
    conn.execute(text(sql), {"g": group})


def _indexed_columns(table: Any) -> set[str]:
    names = {c.name for index in table.indexes for c in index.columns}
    for constraint in table.constraints:
        names.update(c.name for c in getattr(constraint, "columns", ()))
    return names


def _version_moved(conn: Any, table: Any) -> str:
    live = conn.dialect.identifier_preparer.quote(table.name)
    return (
        f"SELECT 1 FROM {PREFIX}{table.name} s LEFT JOIN {live} t ON t.id = s.id "
        "WHERE s.crm_op = 'u' AND s.crm_version IS NOT NULL AND (t.id IS NULL OR t.version <> s.crm_version)"
    )


def _key_taken(conn: Any, table: Any, keys: tuple[str, ...], live_only: bool) -> str:
    quote = conn.dialect.identifier_preparer.quote
    live = quote(table.name)
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in keys)
    given = " AND ".join(
        f"s.{quote(k)} IS NOT NULL" + (f" AND s.{quote(k)} <> ''" if _is_text(table.c[k]) else "") for k in keys
    )
    alive = " AND t.deleted_at IS NULL" if live_only and "deleted_at" in table.c else ""
    return f"SELECT 1 FROM {PREFIX}{table.name} s JOIN {live} t ON {on} WHERE s.crm_op = 'i' AND {given}{alive}"


def _is_text(column: Any) -> bool:
    try:
        return column.type.python_type is str
    except NotImplementedError:
        return False


def _found(conn: Any, query: str) -> bool:
    return conn.exec_driver_sql(query + " LIMIT 1").first() is not None


def _marks(conn: Any, n: int) -> str:
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * n)
