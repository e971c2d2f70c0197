"""Kept figures: the deal aggregates the database keeps up to date itself.

The tables (``models.FIG_DEAL``, ``DEAL_REACH``, ``FIG_REACH``, ``FIG_STATE``) are written by
triggers in the transaction that changes a deal, a customer's deletion or a deal's stage
history, on SQLite and PostgreSQL alike, so a change costs work proportional to the change and
every reader (Reports, the board headers, ``crm-tui report``) sums a few hundred cells instead of
every deal. Whatever writes — a service, the importer, undo, another session, raw SQL — the
figures follow.

- ``fig_deal``: per (stage, owner, currency, UTC day the deal closed or '') the counts and sums
  ``metrics.deals`` folds: amount, amount × own probability, amount weighted by the stage,
  seconds from created to closed and how many closed deals those are. Probabilities of stages
  and exchange rates apply when read, so changing either rewrites nothing.
- ``deal_reach`` and ``fig_reach``: each deal's furthest open stage position in its history, and
  per (stage, owner, closed day, furthest position reached counting the current stage; a won
  stage's deals have reached every open stage) the deals — the funnel's conversions.
- ``fig_state``: ``reach_stale`` is set when a stage's position, outcome or archiving changes
  (positions are what "furthest" compares); the write transaction that did it rebuilds the reach
  before it commits (``settle``), and until a rebuild a reader falls back to reading the history.

- ``fig_touch``: how many changes concerned each UTC month ('YYYY-MM' of a deal's creation or
  close, a stage move, a deal line's deal; '0000-00' for every month at once: a price, a rate, a
  stage's outcome, a paused bulk write). Not a figure but a clock of the past: the learned
  forecast keeps what the months before the current one taught while their count stands
  (``metrics.forecast``).

- ``fig_feed`` (SQLite only): which deals changed, in commit order (a NULL deal: every deal — a
  price, a paused bulk write). Not a figure either: the forecast keeps the deals open now in memory
  and reads again only the deals named since (``metrics.forecast_read``). Each write trims it to its
  newest ``FEED_KEPT`` rows (``settle``); a reader further behind reads every open deal.

``rebuild`` recomputes everything from the deals (``crm-tui doctor --rebuild-figures``, schema
upgrades); ``differences`` compares what is kept with a full recomputation (the doctor's check
and the property test). The SQL itself (the triggers, the tables, the recomputing selects) is
``crm_tui.kept_sql``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from crm_tui.kept_sql import BUYER_CHANGES, COUNT_BUYER_CHANGE, DEAL_SUMS, EVERY_DEAL, FEED_KEPT, Sql

if TYPE_CHECKING:
    from sqlalchemy import Connection


def _sql(conn: Connection) -> Sql:
    return Sql(conn.dialect.name == "postgresql")


def install(conn: Connection) -> None:
    """Create (or re-create) the triggers, then rebuild every figure from the deals."""
    install_triggers(conn)
    rebuild(conn)


def install_triggers(conn: Connection) -> None:
    """Create (or re-create) every trigger."""
    for statement in _sql(conn).ddl():
        conn.exec_driver_sql(statement)


def rebuild(conn: Connection) -> None:
    """Recompute every kept figure from the deals and their history (in the caller's transaction)."""
    q = _sql(conn)
    conn.exec_driver_sql("DELETE FROM fig_deal")
    conn.exec_driver_sql(
        f"INSERT INTO fig_deal (stage_id, owner, currency, day, {', '.join(DEAL_SUMS)}) {q.deal_rows()}"
    )
    _rebuild_reach(conn, q)
    _rebuild_buyers(conn, q)
    conn.exec_driver_sql("DELETE FROM fig_order")
    conn.exec_driver_sql(f"INSERT INTO fig_order (owner, status, currency, n, value) {q.order_rows()}")
    conn.exec_driver_sql("DELETE FROM fig_demand")
    conn.exec_driver_sql(f"INSERT INTO fig_demand (product_id, stage_id, owner, quantity) {q.demand_rows()}")
    conn.exec_driver_sql("DELETE FROM fig_task")
    conn.exec_driver_sql(
        f"INSERT INTO fig_task (owner, kind, outcome, done_day, due_day, n, with_due, on_time) {q.task_rows()}"
    )


def _rebuild_buyers(conn: Connection, q: Sql) -> None:
    conn.exec_driver_sql("DELETE FROM fig_buyer")
    conn.exec_driver_sql(f"INSERT INTO fig_buyer (customer_id, currency, n, value, last_at) {q.buyer_rows()}")
    conn.exec_driver_sql("DELETE FROM fig_state WHERE key = 'buyers_stale'")
    conn.exec_driver_sql(COUNT_BUYER_CHANGE)


def _rebuild_reach(conn: Connection, q: Sql) -> None:
    conn.exec_driver_sql("DELETE FROM deal_reach")
    conn.exec_driver_sql(f"INSERT INTO deal_reach (deal_id, position) {q.reach_select()}")
    conn.exec_driver_sql("DELETE FROM fig_reach")
    conn.exec_driver_sql(f"INSERT INTO fig_reach (stage_id, owner, day, reach, n) {q.reach_rows()}")
    conn.exec_driver_sql("DELETE FROM fig_state WHERE key = 'reach_stale'")


@contextmanager
def rebuilt(conn: Connection) -> Iterator[None]:
    """A write of a whole book (the demo, a copy between databases) in the caller's transaction:
    the triggers paused while it writes, every figure rebuilt once after."""
    conn.exec_driver_sql("INSERT INTO fig_state (key, value) VALUES ('paused', 1)")
    yield
    conn.exec_driver_sql("DELETE FROM fig_state WHERE key = 'paused'")
    conn.exec_driver_sql(_sql(conn).touch("'0000-00'"))  # the paused write's changes, every month's
    _feed_every(conn)
    rebuild(conn)


@contextmanager
def bulk(conn: Connection, touched: str) -> Iterator[None]:
    """A bulk write of many deals (an import's merge) in the caller's transaction: the figures of
    the deals it touches are taken out, the triggers are paused while it writes, and the figures
    of those deals are put back set-based after — proportional to the write, not to the book.
    ``touched``: SQL selecting the ids of every deal the write creates or changes (deal rows,
    their history or their customer), asked before and after the write. The pause is a row
    only this transaction sees: another session's triggers keep running, and a write that
    fails rolls it back with everything else."""
    q = _sql(conn)
    # ``touched`` is a UNION over the staged rows, asked a dozen times below: settled once into
    # a keyed table (the staged rows do not change during the write), each ask is a lookup
    conn.exec_driver_sql("DROP TABLE IF EXISTS crm_kept_touched")
    key = "INTEGER" if conn.dialect.name == "sqlite" else "BIGINT"  # SQLite: the rowid itself
    conn.exec_driver_sql(f"CREATE TEMP TABLE crm_kept_touched (id {key} PRIMARY KEY)")
    conn.exec_driver_sql(f"INSERT INTO crm_kept_touched (id) {touched}")
    touched = "SELECT id FROM crm_kept_touched"
    _count(conn, q, touched, "-1")
    their_tasks = f"t.deal_id IN ({{}}) AND {q.live_task('t')}"
    conn.exec_driver_sql(q.add_task("t", "-1", their_tasks.format(touched), source=" FROM task t", grouped=True))
    their_lines = f"d.id IN ({{}}) AND {q.live('d')}"
    join = " JOIN deal d ON d.id = dp.deal_id"
    conn.exec_driver_sql(q.deal_demand("d", "-1", their_lines.format(touched), source=join))
    # the customers its deals may leave, whose purchases are recomputed after it too
    conn.exec_driver_sql("DROP TABLE IF EXISTS crm_kept_buyers")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE crm_kept_buyers AS SELECT d.customer_id AS customer_id FROM deal d "
        f"WHERE d.id IN ({touched}) AND d.customer_id IS NOT NULL"
    )
    conn.exec_driver_sql("INSERT INTO fig_state (key, value) VALUES ('paused', 1)")
    yield
    conn.exec_driver_sql("DELETE FROM fig_state WHERE key = 'paused'")
    conn.exec_driver_sql(q.touch("'0000-00'"))  # the paused write's changes, every month's
    _feed_every(conn)
    ids = touched
    conn.exec_driver_sql(f"DELETE FROM deal_reach WHERE deal_id IN ({ids})")
    conn.exec_driver_sql(f"INSERT INTO deal_reach (deal_id, position) {q.reach_select(f' AND sc.deal_id IN ({ids})')}")
    who = (
        f"SELECT d.customer_id FROM deal d WHERE d.id IN ({ids}) UNION SELECT o.customer_id FROM sales_order o "
        f"WHERE o.deal_id IN ({ids}) UNION SELECT customer_id FROM crm_kept_buyers"
    )
    _count(conn, q, ids, "1")
    conn.exec_driver_sql(q.add_task("t", "1", their_tasks.format(ids), source=" FROM task t", grouped=True))
    conn.exec_driver_sql(q.deal_demand("d", "1", their_lines.format(ids), source=join))
    for statement in q.refresh_buyers(who):
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql("DROP TABLE crm_kept_buyers")
    conn.exec_driver_sql("DROP TABLE crm_kept_touched")


def _count(conn: Connection, q: Sql, ids: str, sign: str) -> None:
    """Add (``sign`` 1) or take out (-1) the figures of the live deals among ``ids``."""
    where = f"d.id IN ({ids}) AND {q.live('d')}"
    conn.exec_driver_sql(q.add_deal("d", sign, where, source=" FROM deal d", grouped=True))
    conn.exec_driver_sql(q.add_reach("d", sign, where, source=" FROM deal d", grouped=True))


def _feed_every(conn: Connection) -> None:
    """A paused write's deals, all of them, in ``fig_feed`` (SQLite: the only engine that keeps it)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(EVERY_DEAL)


def reach_stale(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("SELECT value FROM fig_state WHERE key = 'reach_stale'").scalar())


def buyer_changes(conn: Connection) -> int:
    """How many writes have rewritten purchases so far (``BUYER_CHANGES``; it only grows)."""
    return int(conn.exec_driver_sql(f"SELECT value FROM fig_state WHERE key = '{BUYER_CHANGES}'").scalar() or 0)


def buyers_stale(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("SELECT value FROM fig_state WHERE key = 'buyers_stale'").scalar())


def settle(conn: Connection) -> None:
    """Before a write commits: if it changed a stage's order, outcome or archiving, rebuild what
    depends on it — the reach, the purchases (one indexed read when nothing is stale)."""
    if conn.dialect.name == "sqlite":  # the feed's oldest rows: nobody that far behind reads them
        conn.exec_driver_sql(f"DELETE FROM fig_feed WHERE seq <= (SELECT max(seq) FROM fig_feed) - {FEED_KEPT}")
    stale = {k for (k,) in conn.exec_driver_sql("SELECT key FROM fig_state WHERE value = 1")}
    if "reach_stale" in stale:
        _rebuild_reach(conn, _sql(conn))
    if "buyers_stale" in stale:
        _rebuild_buyers(conn, _sql(conn))


def differences(conn: Connection) -> list[str]:
    """Where the kept figures differ from a full recomputation (empty: they agree)."""
    q = _sql(conn)
    out: list[str] = []

    def table(sql: str, nkey: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        rows: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for row in conn.exec_driver_sql(sql):
            values = tuple(v if isinstance(v, str | dt.datetime) else int(v) for v in row[nkey:])
            if any(values) or nkey == 1:  # a cell summed back to nothing is no cell (a position 0 is one)
                rows[tuple(row[:nkey])] = values
        return rows

    for name, nkey, kept_sql, full_sql in (
        ("fig_deal", 4, f"SELECT stage_id, owner, currency, day, {', '.join(DEAL_SUMS)} FROM fig_deal", q.deal_rows()),
        ("deal_reach", 1, "SELECT deal_id, position FROM deal_reach", q.reach_select()),
        ("fig_reach", 4, "SELECT stage_id, owner, day, reach, n FROM fig_reach", q.reach_rows()),
        ("fig_buyer", 2, "SELECT customer_id, currency, n, value, last_at FROM fig_buyer", q.buyer_rows()),
        ("fig_order", 3, "SELECT owner, status, currency, n, value FROM fig_order", q.order_rows()),
        ("fig_demand", 3, "SELECT product_id, stage_id, owner, quantity FROM fig_demand", q.demand_rows()),
        (
            "fig_task",
            5,
            "SELECT owner, kind, outcome, done_day, due_day, n, with_due, on_time FROM fig_task",
            q.task_rows(),
        ),
    ):
        kept, full = table(kept_sql, nkey), table(full_sql, nkey)
        for key in sorted(set(kept) | set(full), key=repr):
            if kept.get(key) != full.get(key):
                out.append(f"{name} {key}: kept {kept.get(key)}, recomputed {full.get(key)}")
    return out


def deal_cells(
    conn: Connection,
    open_ids: Sequence[int],
    closed_ids: Sequence[int],
    since: str | None,
    until: str | None,
    owner: str | None,
) -> list[tuple[int, str, str, int, int, int, int, int, int]]:
    """(stage, owner, currency, n, value, override_cp, default_amount, cycle_secs, cycle_n) summed over
    the open stages' cells and the closed stages' cells whose day lies in since..until (inclusive
    'YYYY-MM-DD'; None: unbounded; a bounded period leaves out closed deals with no closed time)."""
    where, params = _where(open_ids, closed_ids, since, until, owner)
    if where is None:
        return []
    sql = (
        "SELECT stage_id, owner, currency, "
        + ", ".join(f"SUM({c})" for c in DEAL_SUMS)
        + f" FROM fig_deal WHERE {where} GROUP BY stage_id, owner, currency"
    )
    return [
        (int(s), o, c, int(n), int(v), int(ocp), int(damt), int(cs), int(cn))
        for s, o, c, n, v, ocp, damt, cs, cn in conn.execute(text(sql), params)
    ]


def won_months(
    conn: Connection, won_ids: Sequence[int], since: str | None, until: str | None, owner: str | None
) -> list[tuple[str, str, int]]:
    """('YYYY-MM', currency, Σ amount) of won deals closed in the period (with a closed time)."""
    where, params = _where([], won_ids, since, until, owner)
    if where is None:
        return []
    sql = (
        f"SELECT substr(day, 1, 7), currency, SUM(value) FROM fig_deal WHERE {where} AND day <> '' "
        "GROUP BY substr(day, 1, 7), currency"
    )
    return [(m, c, int(v)) for m, c, v in conn.execute(text(sql), params)]


def reach_counts(
    conn: Connection,
    open_ids: Sequence[int],
    closed_ids: Sequence[int],
    since: str | None,
    until: str | None,
    owner: str | None,
) -> list[tuple[int, int, int]] | None:
    """(stage, furthest position reached, deals) over the counted deals; None while the reach is
    being rebuilt (a stage's order changed and no write has settled it yet)."""
    if reach_stale(conn):
        return None
    where, params = _where(open_ids, closed_ids, since, until, owner)
    if where is None:
        return []
    sql = f"SELECT stage_id, reach, SUM(n) FROM fig_reach WHERE {where} GROUP BY stage_id, reach"
    return [(int(s), int(r), int(n)) for s, r, n in conn.execute(text(sql), params) if n]


def _where(
    open_ids: Sequence[int], closed_ids: Sequence[int], since: str | None, until: str | None, owner: str | None
) -> tuple[str | None, dict[str, Any]]:
    params: dict[str, Any] = {}
    terms: list[str] = []
    if open_ids:
        terms.append(f"stage_id IN ({', '.join(str(int(i)) for i in open_ids)})")
    if closed_ids:
        period = [f"stage_id IN ({', '.join(str(int(i)) for i in closed_ids)})"]
        if since is not None:
            period.append("day >= :since")
            params["since"] = since
        if until is not None:
            period.append("day <= :until AND day <> ''")
            params["until"] = until
        terms.append("(" + " AND ".join(period) + ")")
    if not terms:
        return None, params
    where = "(" + " OR ".join(terms) + ")"
    if owner is not None:
        where += " AND owner = :owner"
        params["owner"] = owner
    return where, params
