"""``crm-tui copy --from SRC --to DST``: a whole database between engines.

A rep's laptop file goes to the team's PostgreSQL server, or a server database
comes back to a file for a backup. Every table is copied with its ids, in one
read snapshot of SRC and one write transaction on DST (all or nothing), then
the row counts of both are compared. DST must be new or empty: the copy never
merges into or overwrites data. Module level is stdlib only (``--help`` speed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

BATCH_ROWS = 5000
# The tables a fresh database already fills (the default pipeline): replaced by SRC's.
SEEDED = ("stage_task_template", "stage", "pipeline")
# Facts about the database itself that DST keeps as its own.
OWN_META = ("schema_version", "schema_updated_at")

Progress = Callable[[str, int, int], None]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "copy",
        help="copy a whole database between files and servers (e.g. your file to the team's PostgreSQL)",
        description=(
            "Copy every record, ids included, from SRC into DST, which must be new or empty. "
            "Each of SRC and DST is a file path or a URL such as postgresql+psycopg://user@host/dbname. "
            "Row counts are checked at the end."
        ),
    )
    parser.add_argument(
        "--from",
        dest="source",
        metavar="SRC",
        default=None,
        help="database to copy from (default: --db, else $CRM_TUI_DB, else your default database)",
    )
    parser.add_argument("--to", dest="target", metavar="DST", required=True, help="new or empty database to copy into")
    parser.set_defaults(handler=handler)
    return parser


def handler(args, db_value: str | None) -> int:
    source = args.source or db_value
    tty = sys.stderr.isatty()

    def progress(table: str, done: int, total: int) -> None:
        if tty:
            print(f"\rCopying {table}: {done:,}/{total:,}        ", end="", file=sys.stderr, flush=True)

    counts = copy_database(source, args.target, progress=progress)
    if tty:
        print(file=sys.stderr)
    summary = ", ".join(f"{n:,} {table}" for table, n in counts.items() if n) or "no records"
    print(f"Copied {summary}; row counts match.")
    return 0


def copy_database(source: str | None, target: str, *, progress: Progress | None = None) -> dict[str, int]:
    """Copy SRC (path or URL; None: the default database) into the new or empty DST.

    Returns the rows copied per table. Raises ValidationError for a missing or
    non-empty database and DatabaseError when the counts do not match.
    """
    from crm_tui.db import resolve_db, to_url

    src_url = to_url(resolve_db(source))
    dst_url = to_url(target)
    if _same_database(src_url, dst_url):
        from crm_tui.errors import ValidationError

        raise ValidationError("--from and --to name the same database; give a new or empty database with --to")
    _check_target_file(src_url, dst_url)
    src = _open_source(src_url)
    try:
        dst = _open_target(dst_url)
        try:
            counts = _copy(src, dst, progress)
            _check_counts(dst, counts)
        finally:
            dst.close()
    finally:
        src.close()
    return counts


# -- opening -----------------------------------------------------------------------


def _where(url) -> str:
    from crm_tui.db import describe

    return describe(url)


def _same_database(a, b) -> bool:
    from crm_tui import engines, safety

    pa, pb = engines.sqlite_path(a), engines.sqlite_path(b)
    if pa is not None or pb is not None:
        return pa is not None and pb is not None and safety.same_file(pa, pb)
    key = lambda u: (u.get_backend_name(), u.host or "localhost", u.port or 5432, u.database)  # noqa: E731
    return key(a) == key(b)


def _check_target_file(src_url, dst_url) -> None:
    """DST is a database by design, but never SRC's write-ahead log or another side file."""
    from crm_tui import engines, safety

    src, dst = engines.sqlite_path(src_url), engines.sqlite_path(dst_url)
    if dst is not None:
        safety.check_output(dst, database=src, what="copy", sqlite_ok=True)


def _open_source(url):
    """Open SRC without creating or upgrading anything in it."""
    from crm_tui import engines, migrations
    from crm_tui.db import Database, _create_engine
    from crm_tui.errors import DatabaseError, ValidationError

    where = _where(url)
    path = engines.sqlite_path(url)
    if path is not None and not path.is_file():
        raise ValidationError(f"--from {where} does not exist; name an existing database file or URL")
    probe = Database(url=url, engine=_create_engine(url))
    try:
        with probe.translate_errors(), probe.engine.connect() as conn:
            version = migrations.read_version(conn)
    finally:
        probe.close()
    if version is None:
        raise ValidationError(f"--from {where} holds no crm-tui data; there is nothing to copy")
    if version < migrations.SCHEMA_VERSION:
        raise DatabaseError(
            f"--from {where} has an older schema ({version}); open it once with this crm-tui "
            f"(crm-tui --db {where}) to upgrade it, then copy"
        )
    return Database.open(url.render_as_string(hide_password=False), upgrade=False)


def _open_target(url):
    """Open (creating) DST and make sure it holds nothing but a fresh database's defaults."""
    from sqlalchemy import func, select

    from crm_tui import migrations, models
    from crm_tui.db import Database
    from crm_tui.errors import ValidationError

    dst = Database.open(url.render_as_string(hide_password=False))
    refusal = f"--to {_where(url)} already holds data; copy only into a new or empty database (nothing was changed)"
    with dst.read() as session:
        conn = session.connection()
        for name in models.ALL_TABLES:
            if name in SEEDED:
                continue
            table = _table(name)
            if conn.execute(select(func.count()).select_from(table)).scalar():
                dst.close()
                raise ValidationError(refusal)
        stages = conn.execute(
            select(models.Stage.name, models.Stage.probability, models.Stage.outcome, models.Stage.rot_days).order_by(
                models.Stage.pipeline_id, models.Stage.position
            )
        ).all()
        pipelines = conn.execute(select(models.Pipeline.name)).scalars().all()
    if pipelines != [migrations.DEFAULT_PIPELINE] or [tuple(s) for s in stages] != list(migrations.DEFAULT_STAGES):
        dst.close()
        raise ValidationError(refusal)
    return dst


def _table(name: str):
    from sqlmodel import SQLModel

    return SQLModel.metadata.tables[name]


def _copy_order() -> list:
    """Every table of the schema, parents before children; change_log is each database's own, and
    the kept figures are built from what is copied (``crm_tui.kept``)."""
    from sqlmodel import SQLModel

    from crm_tui import models

    own = ("change_log", "crm_meta", *models.FIGURE_TABLES)
    return [t for t in SQLModel.metadata.sorted_tables if t.name not in own]


# -- copying -----------------------------------------------------------------------


def _copy(src, dst, progress: Progress | None) -> dict[str, int]:
    from sqlalchemy import delete, select

    from crm_tui import kept, models

    tables = _copy_order()
    counts: dict[str, int] = {}
    with src.read() as src_session, dst.write([t.name for t in tables] + ["crm_meta"]) as dst_session:
        read = src_session.connection()
        write = dst_session.connection()
        for name in SEEDED:  # children first
            write.execute(delete(_table(name)))
        with kept.rebuilt(write):  # the figures once from the copied book, not a trigger per row
            _copy_rows(read, write, tables, counts, progress)
        meta = models.Meta.__table__
        extra = read.execute(select(meta).where(meta.c.key.not_in(OWN_META))).all()
        for key, value in extra:
            write.execute(delete(meta).where(meta.c.key == key))
            write.execute(meta.insert().values(key=key, value=value))
    return counts


def _copy_rows(read, write, tables, counts: dict[str, int], progress: Progress | None) -> None:
    """Every row of ``tables``, in batches, from ``read`` to ``write``; ``counts`` gets each total."""
    from sqlalchemy import func, select

    from crm_tui import engines
    from crm_tui.errors import DatabaseError

    for table in tables:
        total = read.execute(select(func.count()).select_from(table)).scalar() or 0
        done = 0
        result = read.execution_options(yield_per=BATCH_ROWS).execute(select(table).order_by(*table.primary_key))
        for batch in result.partitions():
            write.execute(table.insert(), [dict(row._mapping) for row in batch])
            done += len(batch)
            if progress:
                progress(table.name, done, total)
        if done != total:  # raising here rolls the whole copy back
            raise DatabaseError(f"read {done:,} of {total:,} rows of {table.name} from --from; copy again")
        engines.reset_id_sequence(write, table)
        counts[table.name] = done


def _check_counts(dst, copied: dict[str, int]) -> None:
    """After the commit, DST holds exactly the rows copied."""
    from sqlalchemy import func, select

    from crm_tui.errors import DatabaseError

    with dst.read() as session:
        conn = session.connection()
        for name, expected in copied.items():
            found = conn.execute(select(func.count()).select_from(_table(name))).scalar()
            if found != expected:
                raise DatabaseError(
                    f"the copy is incomplete: {name} has {found:,} rows in --to but {expected:,} in --from; "
                    "empty --to and copy again"
                )
