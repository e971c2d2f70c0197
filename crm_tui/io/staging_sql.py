"""The SQL pieces of an import's staging and merge (``crm_tui.io.staging``).

Stateless builders over a live table and its staging table ``crm_stage_<table>`` (``PREFIX``):
the defaults a staged insert fills in (``_defaults``), a staged column with local ids made real
(``_value`` as SQL text, ``_mapped`` for SQLAlchemy queries over ``_staged_table``), the merge's
updates of one column group (``_apply_updates``, ``_update_rows``), the checks that what staging
relied on still holds (``_version_moved``, ``_key_taken``, ``_found``) and the driver's
placeholders (``_marks``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import case, text

from crm_tui import engines

PREFIX = "crm_stage_"


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
