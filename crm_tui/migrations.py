"""Schema versions and the upgrades between them, run in order.

``SCHEMA_VERSION`` is what this build writes. A database records its version
in ``crm_meta``; an older one is upgraded step by step inside one transaction
(after a backup copy is saved), a newer one is refused untouched.
Migrations use portable SQLAlchemy only, so PostgreSQL follows the same
history.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Table, inspect, select, text
from sqlmodel import Session, SQLModel

from crm_tui import engines, models
from crm_tui.errors import DatabaseError

SCHEMA_VERSION = 12

DEFAULT_PIPELINE = "Sales"
# name, probability %, outcome, rot threshold in days
DEFAULT_STAGES = (
    ("Lead", 10, "open", 14),
    ("Qualified", 25, "open", 14),
    ("Proposal", 50, "open", 21),
    ("Negotiation", 75, "open", 21),
    ("Won", 100, "won", None),
    ("Lost", 0, "lost", None),
)
# The seeds' sales process: stage → (kind, subject, duration in days)
DEFAULT_STAGE_TASKS = {
    "Qualified": (("call", "Discovery call: budget, authority, need, timing", 2),),
    "Proposal": (("email", "Send the proposal", 3),),
    "Negotiation": (("meeting", "Agree terms and close date", 5),),
}


def _v1_initial(session: Session) -> None:
    SQLModel.metadata.create_all(session.connection())
    seed_default_pipeline(session)


def _v2_list_indexes_and_search(session: Session) -> None:
    """Every index the models declare that a version-1 database lacks (customer list sorts,
    covering indexes for the metrics and the board), and the customer text search index."""
    conn = session.connection()
    present = set(inspect(conn).get_table_names())
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in present:  # a table a later version adds, with its indexes
            continue
        columns = {c["name"] for c in inspect(conn).get_columns(table.name)}
        for index in sorted(table.indexes, key=lambda ix: ix.name):
            if {c.name for c in index.columns} <= columns:  # one naming a later column: made by that version
                index.create(conn, checkfirst=True)
    engines.create_customer_search(conn)


def _v3_closed_columns_index(session: Session) -> None:
    """The won/lost columns' index also covers their headers' sums (a month of closed deals was
    read row by row from the table: 0.15 s at 300k deals, now a few milliseconds)."""
    conn = session.connection()
    conn.execute(text("DROP INDEX IF EXISTS ix_deal_stage_closed"))
    for index in models.Deal.__table__.indexes:
        if index.name == "ix_deal_closed_metrics":
            index.create(conn, checkfirst=True)


def _v4_journal(session: Session) -> None:
    """The change journal (undo/redo, history, audit) and playbook tasks that close with their deal."""
    conn = session.connection()
    for model in (models.JournalEntry, models.JournalChange):
        model.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]  # SQLModel tables
    present = {c["name"] for c in inspect(conn).get_columns("task")}
    task = models.Task.__table__  # type: ignore[attr-defined]
    for name, reference in (("template_id", " REFERENCES stage_task_template(id)"), ("cancelled_at", "")):
        if name not in present:
            kind = task.c[name].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE task ADD COLUMN {name} {kind}{reference}"))


def _v5_activity_outcome(session: Session) -> None:
    """How a logged call, email or meeting went."""
    conn = session.connection()
    if "outcome" not in {c["name"] for c in inspect(conn).get_columns("task")}:
        conn.execute(text("ALTER TABLE task ADD COLUMN outcome VARCHAR"))


def _v6_funnel_design_and_catalogue(session: Session) -> None:
    """Pipelines and stages the rep can archive or remove without losing their history, and a
    product catalogue with codes and retired products."""
    conn = session.connection()
    for model, column in (
        (models.Pipeline, "archived_at"),
        (models.Stage, "archived_at"),
        (models.Product, "code"),
        (models.Product, "archived_at"),
        (models.StageTaskTemplate, "archived_at"),
    ):
        table = model.__table__  # type: ignore[attr-defined]  # SQLModel tables
        if column not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
            kind = table.c[column].type.compile(dialect=conn.dialect)
            default = " NOT NULL DEFAULT ''" if column == "code" else ""
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column} {kind}{default}"))


def _v7_currencies_goals_forecast(session: Session) -> None:
    """Exchange rates to the home currency, an order's own currency, goals, and a deal's forecast
    category; the deal indexes that cover the figures also carry the currency (and the category)
    so converted totals still read no table rows."""
    conn = session.connection()
    for model in (models.CurrencyRate, models.Goal):
        model.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]  # SQLModel tables
        for index in model.__table__.indexes:  # type: ignore[attr-defined]
            index.create(conn, checkfirst=True)
    for model, column, extra in (
        (models.Order, "currency", " NOT NULL DEFAULT 'USD'"),
        (models.Deal, "forecast_category", ""),
    ):
        table = model.__table__  # type: ignore[attr-defined]
        if column not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
            kind = table.c[column].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column} {kind}{extra}"))
    wanted = {"ix_deal_stage_live", "ix_deal_closed_metrics", "ix_deal_metrics"}
    for index in models.Deal.__table__.indexes:  # type: ignore[attr-defined]
        if index.name in wanted:
            conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
            index.create(conn)


def _v8_team_roles(session: Session) -> None:
    """An index for the owner checks of orders (row security reads it on PostgreSQL, "my orders"
    everywhere); on PostgreSQL the team's roles, grants and row-level security (``crm_tui.team``)
    — when the login upgrading may create them; otherwise a manager's first ``crm-tui team``
    command does, and until then the database works as before, without roles."""
    conn = session.connection()
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_order_owner ON sales_order (owner)"))
    if conn.dialect.name != "postgresql":
        return
    from sqlalchemy import exc as sa_exc

    from crm_tui import team

    try:
        with conn.begin_nested():
            team.secure(conn)
    except sa_exc.DBAPIError as exc:
        if getattr(getattr(exc, "orig", None), "sqlstate", None) != "42501":  # insufficient privilege
            raise


def _v9_kept_figures(session: Session) -> None:
    """The deal figures the database keeps itself (``crm_tui.kept``): their tables, the
    triggers that keep them, and a first build from the deals; on PostgreSQL the team's roles
    read them (when the login upgrading may grant)."""
    from crm_tui import kept

    conn = session.connection()
    for name in models.FIGURE_TABLES:
        models.SQLModel.metadata.tables[name].create(conn, checkfirst=True)
    kept.install(conn)
    if conn.dialect.name != "postgresql":
        return
    from crm_tui import team

    if conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = 'crm_viewer'").first() is not None:
        team.grant_figures(conn)


def _v10_forecast_touches(session: Session) -> None:
    """What changed, per month it concerns (``fig_touch``), so the learned forecast is learned again
    only when a month it learns from changed (``crm_tui.kept``): the table and its triggers (every
    trigger is re-created; the figures kept so far stay as they are)."""
    _figure_table(session, models.FIG_TOUCH)


def _v11_goal_indexes(session: Session) -> None:
    """Three indexes: goals read their period's deals and stage entries through two (creation
    time; stage entered and when), not every deal (the goals panel's progress at 300,000 customers
    went from ~0.28 s to ~0.09 s); the forecast of the deals open now reads the journal after now
    through the third. And the triggers count the writes that rewrite purchases
    (``kept.BUYER_CHANGES``), so the segments are worked out again only after one."""
    from crm_tui import kept

    conn = session.connection()
    kept.install_triggers(conn)
    for table, name in (
        (models.Deal.__table__, "ix_deal_created"),
        (models.JournalEntry.__table__, "ix_journal_at"),
        (models.StageChange.__table__, "ix_stage_change_into"),
    ):
        for index in table.indexes:  # type: ignore[attr-defined]
            if index.name == name:
                index.create(conn, checkfirst=True)


def _v12_deal_feed(session: Session) -> None:
    """Which deals changed, in commit order (``models.FIG_FEED``, SQLite only), so the forecast of
    the deals open now reads again only those of the book it keeps (``forecast_read``): the table
    and its triggers (every trigger is re-created)."""
    _figure_table(session, models.FIG_FEED)


def _figure_table(session: Session, table: Table) -> None:
    """A new table of ``kept``'s: created, every trigger re-created (the figures kept so far stay
    as they are), and on PostgreSQL read by the team's roles (when the login upgrading may grant)."""
    from crm_tui import kept

    conn = session.connection()
    table.create(conn, checkfirst=True)
    kept.install_triggers(conn)
    if conn.dialect.name != "postgresql":
        return
    from crm_tui import team

    if conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = 'crm_viewer'").first() is not None:
        team.grant_figures(conn)


MIGRATIONS: list[tuple[int, str, Callable[[Session], None]]] = [
    (1, "initial schema with the default Sales pipeline", _v1_initial),
    (2, "indexes for lists, metrics and the board; customer text search", _v2_list_indexes_and_search),
    (3, "covering index for the won and lost columns", _v3_closed_columns_index),
    (4, "change journal; playbook tasks close with their deal", _v4_journal),
    (5, "the outcome of a logged activity", _v5_activity_outcome),
    (
        6,
        "archived pipelines, stages and stage tasks; product codes and retired products",
        _v6_funnel_design_and_catalogue,
    ),
    (
        7,
        "exchange rates and order currencies; goals; forecast categories",
        _v7_currencies_goals_forecast,
    ),
    (8, "team roles, grants and row-level security (PostgreSQL); an index of order owners", _v8_team_roles),
    (9, "deal figures kept by the database itself, so reports read sums, not every deal", _v9_kept_figures),
    (10, "changes counted per month: the forecast learns again only when its past changed", _v10_forecast_touches),
    (
        11,
        "indexes for goals and the forecast (deals by creation, stage entries, journal by time); purchases counted",
        _v11_goal_indexes,
    ),
    (12, "which deals changed, in commit order: the forecast reads again only those", _v12_deal_feed),
]


def seed_default_pipeline(session: Session) -> models.Pipeline:
    pipeline = models.Pipeline(name=DEFAULT_PIPELINE, position=0)
    session.add(pipeline)
    session.flush()
    for pos, (name, prob, outcome, rot) in enumerate(DEFAULT_STAGES):
        stage = models.Stage(
            pipeline_id=pipeline.id, name=name, position=pos, probability=prob, outcome=outcome, rot_days=rot
        )
        session.add(stage)
        session.flush()
        for tpos, (kind, subject, days) in enumerate(DEFAULT_STAGE_TASKS.get(name, ())):
            session.add(
                models.StageTaskTemplate(
                    stage_id=stage.id, kind=kind, subject=subject, duration_days=days, position=tpos
                )
            )
    return pipeline


def read_version(conn) -> int | None:
    """The schema version recorded in the database, or None for an empty one.

    A damaged record (not a whole number ≥ 1, or missing beside crm-tui's tables) is refused
    before anything is written or copied: creating the schema again over the tables, or
    upgrading "from -1", would fail half-way."""
    if not inspect(conn).has_table("crm_meta"):
        if inspect(conn).get_table_names():
            raise DatabaseError(
                "this database was not made by crm-tui (it has tables but no crm_meta); choose another file with --db"
            )
        return None
    row = conn.execute(select(models.Meta.value).where(models.Meta.key == "schema_version")).scalar()
    version = parse_version(row)
    if version is None:
        raise DatabaseError(
            f"the database's schema version record is damaged ({describe_version(row)}); "
            "run `crm-tui doctor --fix` to repair it, or restore a backup"
        )
    return version


def parse_version(value: str | None) -> int | None:
    """A recorded schema version, or None when the record is missing or damaged."""
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and int(text) >= 1 else None


def describe_version(value: str | None) -> str:
    return "crm_meta has no schema_version" if value is None else f"schema_version is {value!r}"


#: what each schema version leaves behind that the one before lacks: a table or index name, or a
#: column as ``table.column`` (``infer_version`` repairs a damaged version record from them; a new
#: version adds its own)
SCHEMA_MARKERS = {
    1: "deal",
    2: "ix_customer_live_name",
    3: "ix_deal_closed_metrics",
    4: "journal_change",
    5: "task.outcome",
    6: "product.code",
    7: "deal.forecast_category",
    8: "ix_order_owner",
    9: "fig_deal",
    10: "fig_touch",
    11: "ix_stage_change_into",
    12: "fig_feed",
}


def infer_version(names: set[str]) -> int:
    """The newest schema version whose marker, and every earlier one's, is among ``names`` (the
    database's table, index and column names): what its tables show, whatever its damaged record says.
    A later step found without an earlier one is run again by the upgrade (steps check first)."""
    version = 1
    while SCHEMA_MARKERS.get(version + 1) in names:
        version += 1
    return version


def schema_names(conn) -> set[str]:
    """Table and index names, and columns as ``table.column``, of the database behind ``conn``
    (any engine)."""
    found = inspect(conn)
    names = set(found.get_table_names())
    for table in list(names):
        names.update(ix["name"] for ix in found.get_indexes(table) if ix.get("name"))
        names.update(f"{table}.{c['name']}" for c in found.get_columns(table))
    return names


def ensure_schema(db, *, upgrade: bool = True) -> int:
    """Create or upgrade the schema; refuse a database from a newer version."""
    with db.engine.connect() as conn:
        current = read_version(conn)
        conn.rollback()
    if current is not None and current > SCHEMA_VERSION:
        raise DatabaseError(
            f"this database was written by a newer crm-tui (schema {current}, this one knows "
            f"{SCHEMA_VERSION}); upgrade crm-tui to open it"
        )
    if current == SCHEMA_VERSION:
        return current
    if current is not None and not upgrade:
        raise DatabaseError(f"the database needs an upgrade from schema {current} to {SCHEMA_VERSION}")
    with db.write(models.ALL_TABLES, journal=False) as session:
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = read_version(session.connection())
        if current == SCHEMA_VERSION:
            return current
        if current is not None:
            save_copy_before_upgrade(db, current)
        with engines.long_statements(session.connection()):  # index builds on a big database
            for version, _title, step in MIGRATIONS:
                if current is None or version > current:
                    step(session)
                    current = version
        now = dt.datetime.now(dt.UTC).isoformat()
        _set_meta(session, "schema_version", str(SCHEMA_VERSION))
        _set_meta(session, "schema_updated_at", now)
    return SCHEMA_VERSION


def save_copy_before_upgrade(db, old_version: int) -> Path | None:
    """Copy a SQLite database to ``<stem>.v<old>.bak.sqlite3`` beside it (0600) before
    upgrading it; called under the upgrade's write lock so the copy is exactly what
    the upgrade starts from.

    One copy per version: an earlier copy of this version made by crm-tui (an upgrade that
    was interrupted) is replaced once the new one is complete, and the repeats older builds
    left (``.bak2``, ``.bak3``…) are removed. A file there that is not such a copy is never
    overwritten; the copy then takes the next free name."""
    path = db.path
    if path is None:
        return None
    candidates = [path.with_name(f"{path.stem}.v{old_version}.bak.sqlite3")]
    candidates += sorted(path.parent.glob(f"{path.stem}.v{old_version}.bak[0-9]*.sqlite3"))
    dest = next((c for c in candidates if not c.exists() or _our_copy(c, old_version)), None)
    n = 1
    while dest is None:
        n += 1
        free = path.with_name(f"{path.stem}.v{old_version}.bak{n}.sqlite3")
        dest = free if not free.exists() else None
    try:
        engines.backup_sqlite(path, dest)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(
            f"cannot save a copy of {path} before upgrading it from schema {old_version} "
            f"({getattr(exc, 'strerror', None) or exc}); nothing was changed; free some disk space "
            "or make its folder writable, then open it again"
        ) from None
    for repeat in candidates:
        if repeat != dest and repeat.exists() and _our_copy(repeat, old_version):
            repeat.unlink(missing_ok=True)
    return dest


def _our_copy(path: Path, version: int) -> bool:
    """Whether ``path`` is a crm-tui database at schema ``version`` (a copy an upgrade saved)."""
    from urllib.parse import quote

    try:
        con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
        try:
            row = con.execute("select value from crm_meta where key = 'schema_version'").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == str(version)


def _set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(models.Meta, key)
    if row is None:
        session.add(models.Meta(key=key, value=value))
    else:
        row.value = value
