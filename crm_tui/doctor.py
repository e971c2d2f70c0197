"""``crm-tui doctor [--fix]``: is this database healthy, private and current?

Checks, without changing anything (unless ``--fix``): file and folder
permissions, ``PRAGMA integrity_check``, schema version, sizes and row counts.
A SQLite file is read through its own read-only connection, so a damaged or
old database is reported, never upgraded or repaired behind the user's back.
``--fix`` tightens permissions (file 0600, folder 0700) and repairs a damaged schema
version record (it writes the version the tables show).

Exit status: 0 healthy (or fixed), 1 problems remain; a database that cannot be
found or named is the usual one-line error (status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import quote

COUNTED = ("customer", "contact", "deal", "task", "note", "product", "sales_order", "change_log")
SOFT_DELETED = {"customer", "contact", "deal", "task"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("doctor", help="check the database: integrity, privacy, schema version, sizes and counts")
    p.add_argument(
        "--fix",
        action="store_true",
        help="make the database file 0600 and its folder 0700; repair a damaged schema version record",
    )
    p.add_argument(
        "--rebuild-figures",
        action="store_true",
        help="recompute the deal figures the database keeps (Reports, the board headers, report) from the deals",
    )
    p.set_defaults(handler=run)
    return p


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""  # pragma: no cover


def run(args, db_value: str | None, out=None) -> int:
    from crm_tui.db import resolve_db, to_url
    from crm_tui.engines import sqlite_path

    out = out or sys.stdout
    url = to_url(resolve_db(db_value))
    path = sqlite_path(url)
    if getattr(args, "rebuild_figures", False):
        _rebuild_figures(db_value, out)
    if path is None:
        return _server(url, out, bool(getattr(args, "fix", False)))
    return _sqlite(path, bool(getattr(args, "fix", False)), out)


def _sqlite(path: Path, fix: bool, out) -> int:
    import sqlite3

    from crm_tui import safety
    from crm_tui.errors import DatabaseError
    from crm_tui.migrations import SCHEMA_VERSION

    if not path.exists():
        raise DatabaseError(f"there is no database at {path}; check --db or CRM_TUI_DB")
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file; pass a file path with --db")
    try:
        with path.open("rb") as head:  # before --fix touches it: a wrong --db is left as it was
            start = head.read(16)
    except OSError as exc:
        raise DatabaseError(f"cannot read {path} ({exc.strerror or exc}); check its permissions") from None
    if start and start != b"SQLite format 3\x00":
        raise DatabaseError(
            f"{path} is not a database file (it does not start as SQLite files do); check --db, or "
            "restore a backup into a new file with `crm-tui restore BACKUP --to NEW`"
        )
    problems = 0

    def line(label: str, text: str) -> None:
        print(f"{label:<10} {text}", file=out)

    line("database", str(path))
    # -- privacy
    if fix:
        fixed, left = safety.fix_permissions(path)
        for item in fixed:
            line("fixed", item)
        for item in left:
            line("privacy", f"not fixed: {item}")
    found = safety.check_permissions(path)
    for item in found:
        line("privacy", f"PROBLEM: {item}")
    problems += len(found)
    if not found:
        line("privacy", "ok (only you can read the database files)")
    # -- integrity, version, counts (read-only: nothing is changed or upgraded)
    wal = Path(f"{path}-wal")
    sizes = f"{_size(path.stat().st_size)}" + (
        f" + {_size(wal.stat().st_size)} write-ahead log" if wal.exists() else ""
    )
    line("size", sizes)
    try:
        raw = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        line("integrity", f"PROBLEM: cannot open it ({exc}); check its permissions")
        return 1
    try:
        try:
            result = [r[0] for r in raw.execute("PRAGMA integrity_check(20)")]
        except sqlite3.DatabaseError as exc:
            result = [str(exc)]
        if result == ["ok"]:
            line("integrity", "ok")
        else:
            problems += 1
            restore = "restore a backup: crm-tui restore BACKUP --to NEW"
            line("integrity", f"PROBLEM: the file is damaged ({result[0]}); {restore}")
            for extra in result[1:5]:
                line("", extra)
            _list_backups(path, line)
            return 1
        problems += _schema_and_counts(raw, line, SCHEMA_VERSION, fix=path if fix else None)
    finally:
        raw.close()
    line("result", "healthy" if not problems else f"{problems} problem(s) found")
    return 0 if not problems else 1


def _rebuild_figures(db_value: str | None, out) -> None:
    """Recompute the kept figures in one write transaction (upgrading the schema first if needed)."""
    import time

    from crm_tui import kept
    from crm_tui.db import Database

    db = Database.open(db_value, must_exist=True)
    try:
        started = time.perf_counter()
        with db.write({"deal"}, journal=False) as session:
            conn = session.connection()
            kept.rebuild(conn)
            cells = conn.exec_driver_sql("SELECT COUNT(*) FROM fig_deal").scalar()
        print(f"{'figures':<10} rebuilt: {cells:,} cells in {time.perf_counter() - started:.1f} s", file=out)
    finally:
        db.close()


def _kept_figures(conn, line) -> int:
    """Do the kept figures equal a full recomputation? → problems found."""
    from crm_tui import kept

    found = kept.differences(conn)
    if not found:
        line("figures", "ok (the kept deal figures equal a full recomputation)")
        return 0
    line(
        "figures",
        f"PROBLEM: {len(found):,} kept figure cell(s) differ from the deals; "
        "`crm-tui doctor --rebuild-figures` recomputes them",
    )
    for item in found[:3]:
        line("", item)
    return 1


def _schema_and_counts(raw, line, known: int, *, fix: Path | None = None) -> int:
    import sqlite3

    from crm_tui.migrations import infer_version, parse_version

    try:
        tables = {r[0] for r in raw.execute("select name from sqlite_master where type='table'")}
        if "crm_meta" not in tables:
            line("schema", "PROBLEM: this is not a crm-tui database (no crm_meta table)")
            return 1
        row = raw.execute("select value from crm_meta where key='schema_version'").fetchone()
        names = {r[0] for r in raw.execute("select name from sqlite_master where type in ('table', 'index')")}
        names |= {  # columns as table.column: a schema version can be one added column
            r[0]
            for r in raw.execute(
                "select m.name || '.' || p.name from sqlite_master m join pragma_table_info(m.name) p "
                "where m.type = 'table'"
            )
        }
    except sqlite3.DatabaseError as exc:
        line("schema", f"PROBLEM: cannot read it ({exc})")
        return 1
    recorded = row[0] if row else None
    version = parse_version(recorded)
    problems = 0
    if version is None:
        problems += _damaged_version(recorded, infer_version(names), line, fix)
        version = known  # what follows reads the tables, not the record
    if version == known:
        line("schema", f"version {version} (current)")
    elif version is not None and version < known:
        line("schema", f"version {version}; opening it upgrades it to {known} (a copy is saved first)")
    else:
        line("schema", f"PROBLEM: version {version} is newer than this crm-tui knows ({known}); upgrade crm-tui")
        problems += 1
    parts = []
    for table in COUNTED:
        if table not in tables:
            continue
        total = raw.execute(f'select count(*) from "{table}"').fetchone()[0]
        text = f"{table.replace('sales_', '').replace('_', ' ')} {total:,}"
        if table in SOFT_DELETED:
            deleted = raw.execute(f'select count(*) from "{table}" where deleted_at is not null').fetchone()[0]
            if deleted:
                text += f" ({deleted:,} deleted)"
        parts.append(text)
    line("counts", ", ".join(parts))
    if "fig_deal" in tables:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)
        with engine.connect() as conn:
            problems += _kept_figures(conn, line)
    return problems


def _damaged_version(recorded, inferred: int, line, fix: Path | None) -> int:
    """Report a damaged schema version record, and with ``--fix`` write the version the tables
    show (the next open upgrades from there, after saving a copy). → problems left."""
    from crm_tui.migrations import describe_version

    what = f"the schema version record is damaged ({describe_version(recorded)})"
    if fix is None:
        line("schema", f"PROBLEM: {what}; `crm-tui doctor --fix` sets it to {inferred}, what the tables show")
        return 1
    import sqlite3

    con = sqlite3.connect(str(fix), timeout=5.0)
    try:
        with con:
            con.execute("INSERT OR REPLACE INTO crm_meta (key, value) VALUES ('schema_version', ?)", (str(inferred),))
    except sqlite3.Error as exc:
        line("schema", f"PROBLEM: {what}; could not repair it ({exc}); restore a backup")
        return 1
    finally:
        con.close()
    line("fixed", f"{what}: set to {inferred}, what the tables show")
    return 0


def _list_backups(path: Path, line) -> None:
    candidates = sorted(
        [*path.parent.glob(f"{path.stem}.v*.bak*.sqlite3"), *(path.parent / "backups").glob("*.sqlite3")],
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for backup in candidates[:3]:
        line("backup", str(backup))


def _server(url, out, fix: bool = False) -> int:
    from sqlalchemy import create_engine, func, select, text

    from crm_tui import engines, models
    from crm_tui.errors import DatabaseError
    from crm_tui.migrations import SCHEMA_VERSION, parse_version

    where = url.render_as_string(hide_password=True)
    print(f"{'database':<10} {where}", file=out)
    print(f"{'privacy':<10} managed by the server (file permissions do not apply)", file=out)
    try:
        engine = create_engine(url, connect_args=engines.tls_connect_args(url))
    except Exception as exc:  # noqa: BLE001 - bad driver or URL
        raise DatabaseError(f"cannot use database URL '{where}': {exc}") from None
    figures_problems = 0
    try:
        with engine.connect() as conn:
            recorded = conn.execute(select(models.Meta.value).where(models.Meta.key == "schema_version")).scalar()
            version = parse_version(recorded)
            if version is None:
                version = _damaged_server_version(conn, recorded, fix, out)
            else:
                print(f"{'schema':<10} version {version} (this crm-tui knows {SCHEMA_VERSION})", file=out)
            parts = []
            for table in COUNTED:
                n = conn.execute(select(func.count()).select_from(text(f'"{table}"'))).scalar()
                parts.append(f"{table.replace('sales_', '').replace('_', ' ')} {n:,}")
            print(f"{'counts':<10} {', '.join(parts)}", file=out)
            if version is not None and version >= 9:
                figures_problems = _kept_figures(conn, lambda label, text: print(f"{label:<10} {text}", file=out))
    except Exception as exc:  # noqa: BLE001
        raise DatabaseError(f"cannot check {where}: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    return 0 if version is not None and version <= SCHEMA_VERSION and not figures_problems else 1


def _damaged_server_version(conn, recorded, fix: bool, out) -> int | None:
    """``_damaged_version`` on a server: → the version now recorded, None when still damaged."""
    from sqlalchemy import delete, insert

    from crm_tui import models
    from crm_tui.migrations import describe_version, infer_version, schema_names

    inferred = infer_version(schema_names(conn))
    what = f"the schema version record is damaged ({describe_version(recorded)})"
    if not fix:
        print(
            f"{'schema':<10} PROBLEM: {what}; `crm-tui doctor --fix` sets it to {inferred}, what the tables show",
            file=out,
        )
        return None
    meta = models.Meta.__table__
    conn.execute(delete(meta).where(meta.c.key == "schema_version"))
    conn.execute(insert(meta).values(key="schema_version", value=str(inferred)))
    conn.commit()
    print(f"{'fixed':<10} {what}: set to {inferred}, what the tables show", file=out)
    return inferred
