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

Here: ``Staging``, the ``staging`` context and ``merge_staged_import``. The stateless SQL
builders they use are in ``crm_tui.io.staging_sql``; the conversion of values to what the
driver takes (``driver_values``, re-exported here) in ``crm_tui.io.staging_values``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, or_, select, text

from crm_tui import engines, models
from crm_tui.io.staging_sql import PREFIX as PREFIX
from crm_tui.io.staging_sql import (
    _apply_updates,
    _defaults,
    _found,
    _key_taken,
    _mapped,
    _marks,
    _staged_table,
    _value,
    _version_moved,
)
from crm_tui.io.staging_values import _driver_scalar, _sqlite_literal
from crm_tui.io.staging_values import driver_values as driver_values

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
