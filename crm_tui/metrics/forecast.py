"""A forecast of won value per month learned from the book's own history, and its backtest.

Why this method
---------------
The stage-probability weighted pipeline asks the rep to guess one win % per stage, and it says
nothing about *when* the money comes: every open deal counts in full probability whatever its
age, and deals that will be opened and won within the month count for nothing. The book itself
knows better: at the start of every past month we can see which deals were open, in which stage
and for how long, and which of them were won in that month (or the next ones). So the learned
forecast is an empirical *yield*: for each state a deal can be in at the start of a month —
(stage then, age in that stage) — the share of the open value in that state that was won in the
month k months later, summed over every past month start whose target month is over. Applied to
the deals open now, plus the average value past months won from deals opened after their start,
it gives won value per future month. A state seen fewer than ``MIN_DEALS`` times borrows the
yield of its stage (any age), then of every deal, so a rare state does not swing on one deal.

The interval treats each open deal as won (for its value) or not, independently, with the
learned yield as its chance, plus the month-to-month spread of the fresh deals' part: a normal
80% interval (± 1.2816 σ), never below 0. It is honest about the noise of a few big deals, not
about a change in the market the history has not seen.

Nothing may leak the outcome
----------------------------
The backtest stands at the start of a past month and may use only what was known then:

- the deals created before it and not closed before it;
- their stage then, from the stage-change history. The rows an import writes with no from-stage
  are *not* history: the importer records only the entry into a deal's final stage, at its close
  date for a closed deal and at its creation for an open one, so reading them would tell the
  model which deals were going to close. Before a deal's first real move its stage is unknown
  (one state for all such deals, the pipeline's first open stage for the baseline's %);
- their value while open. A deal's amount is often its outcome (a lost deal may carry 0, an
  imported won deal its close value), so a deal with product lines is valued at the catalogue's
  list price of its lines (what was offered), and one without lines at its amount as the change
  journal says it stood then (the old value of the first amount change after that moment);
- outcomes only of target months that had ended by then.

A later change to a closed deal's amount therefore changes no past month's forecast.

The learned months are kept: for a database state (``categories.forecast_stamp``) and a day,
``forecast_months`` stores them best-effort in ``crm_meta`` and answers from there until a deal,
a stage move, a price or a rate changes, or the day does. A database or role that may not write
there (read-only file, PostgreSQL viewer or rep) still gets them, computed each time.

What the past taught is kept beside them (``forecast_learn.Learned``), for the month it was learned
in and the count of changes the database has seen concerning the months before it (``fig_touch``,
kept by triggers: ``crm_tui.kept``). While that count stands — a stage move, a new deal or a deal
won today concern this month only — a forecast needs only the deals open now
(``read_book(…, open_at=now)``), a fraction of the book, and gives exactly what learning again
would. Those deals are kept in memory (``Database.memo``, on SQLite), and the next forecast reads
again only the deals the database's feed of changes (``fig_feed``) names since: a stage move costs
one deal's rows, not sixty thousand. An amount changed outside crm-tui without a journal entry is
not seen as a change to the past (the journal is how the past amounts are known at all).

The model is ``crm_tui.metrics.forecast_model`` (the book as arrays) and ``forecast_learn`` (learning
from it), its reading of the book ``forecast_read`` (numpy: imported only when something is learned,
so a report that reads the kept months does without it). The whole book is learned from fifty thousand
deals at a time (``read_parts``), so learning holds one part's arrays, not the book's.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from crm_tui.columns import col
from crm_tui.metrics._common import utc_now
from crm_tui.metrics.forecast_types import Backtest, BacktestMonth, Errors, MonthForecast

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

    from crm_tui.db import Database
    from crm_tui.metrics.forecast_learn import Learned
    from crm_tui.metrics.forecast_model import Book

__all__ = ["Backtest", "BacktestMonth", "Errors", "MonthForecast", "backtest", "forecast_months", "load_book"]

#: the crm_meta keys the learned months and what the past taught are kept under, and the version
#: of what is kept there
KEEP_KEY = "forecast_learned"
PAST_KEY = "forecast_past"
KEEP_VERSION = 2


def __getattr__(name: str) -> Any:
    """The model's names (``Book``, ``DealPast``, ``Z80``, ``forecast_book``…) from here too, numpy
    imported on first use."""
    if name.startswith("__"):
        raise AttributeError(name)
    from crm_tui.metrics import forecast_learn, forecast_model, forecast_read

    for module in (forecast_model, forecast_learn, forecast_read):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(name)


def load_book(db: Database) -> Book:
    """Every live deal's past, read into arrays (``forecast_read.load_book``)."""
    from crm_tui.metrics.forecast_read import load_book as load

    return load(db)


def backtest(db: Database, *, months: int = 12, now: dt.datetime | None = None) -> Backtest:
    """Replay the last ``months`` months that are over (ending with the last month any deal was
    won in, when that is earlier): at each month's start, the learned and the baseline forecast
    of its won value from what was known then, against what it won (``forecast_learn.backtest_book``)."""
    from crm_tui.metrics.forecast_learn import backtest_book
    from crm_tui.metrics.forecast_read import load_book as load

    return backtest_book(load(db), months=months, now=now)


def forecast_months(
    db: Database, *, months: int = 6, now: dt.datetime | None = None, keep: bool = True
) -> list[MonthForecast]:
    """The learned forecast of won value for this month and the next ``months − 1``, with its 80%
    interval and the weighted pipeline beside it (the same deals, stage % × value, by expected
    close: none or past means this month).

    With ``keep``, months learned for the same database state and day are read back from
    ``crm_meta``, and new ones stored there when the database lets us (module docstring)."""
    from crm_tui.metrics.categories import forecast_stamp

    now = utc_now(now)
    with db.read() as session:
        conn = session.connection()
        if keep:
            key = json.dumps([KEEP_VERSION, months, now.date().isoformat(), *map(str, forecast_stamp(session))])
            kept = _read_kept(conn, key)
            if kept is not None:
                return kept  # numpy and the model are not even imported
        from crm_tui.metrics import forecast_learn as model
        from crm_tui.metrics.forecast_read import read_book, read_parts

        past = _past_key(session, months, now) if keep else ""
        learned = _read_learned(conn, past) if keep else None
        # in the stamps' transaction: the state they name
        if learned is None:  # the whole book, a part at a time
            learned = model.learn_parts(*read_parts(conn), months=months, now=now)
        book = read_book(conn, open_at=now, memo=db.memo if keep else None)
    rows = model.apply_learned(learned, book, now=now)
    if keep:
        _store_kept(db, {KEEP_KEY: _kept_months(key, rows), PAST_KEY: json.dumps({"key": past, **learned.json()})})
    return rows


def _past_key(session: Session, months: int, now: dt.datetime) -> str:
    """What what the past taught for a forecast at ``now`` depends on besides the month: the changes
    concerning the months before it (``fig_touch``, each counted once: the sum only grows), the
    home currency, the schema and the team's policy on reps' deals."""
    from sqlalchemy import func

    from crm_tui.models import FIG_TOUCH, Meta
    from crm_tui.money import load_rates

    month = f"{now.year:04d}-{now.month:02d}"
    conn = session.connection()
    touched = conn.execute(select(func.coalesce(func.sum(FIG_TOUCH.c.n), 0)).where(FIG_TOUCH.c.month < month)).scalar()
    meta = dict(
        conn.execute(
            select(col(Meta.key), col(Meta.value)).where(col(Meta.key).in_(("schema_version", "team_reps_see")))
        ).all()
    )
    home = load_rates(session).home
    return json.dumps([KEEP_VERSION, months, month, int(touched or 0), home, *map(str, sorted(meta.items()))])


def _read_learned(conn: Connection, key: str) -> Learned | None:
    from crm_tui.metrics.forecast_learn import Learned
    from crm_tui.models import Meta

    text = conn.execute(select(col(Meta.value)).where(col(Meta.key) == PAST_KEY)).scalar()
    try:
        kept = json.loads(text) if text else None
        if not isinstance(kept, dict) or kept.get("key") != key:
            return None
        return Learned.of(kept)
    except (ValueError, TypeError, KeyError):
        return None  # another version's or a damaged entry: learn again


def _kept_months(key: str, rows: list[MonthForecast]) -> str:
    return json.dumps(
        {"key": key, "months": [[r.month, r.learned_cents, r.low_cents, r.high_cents, r.weighted_cents] for r in rows]}
    )


def _read_kept(conn: Connection, key: str) -> list[MonthForecast] | None:
    from crm_tui.models import Meta

    text = conn.execute(select(col(Meta.value)).where(col(Meta.key) == KEEP_KEY)).scalar()
    try:
        kept = json.loads(text) if text else None
        if not isinstance(kept, dict) or kept.get("key") != key:
            return None
        return [MonthForecast(str(m), int(a), int(b), int(c), int(d)) for m, a, b, c, d in kept["months"]]
    except (ValueError, TypeError, KeyError):
        return None  # another version's or a damaged entry: learn again


def _store_kept(db: Database, entries: dict[str, str]) -> None:
    """Keep ``entries`` (crm_meta key → value) in ``crm_meta``, if the database and the role let us
    at once; else nothing (a read-only file, a viewer's or rep's role, a busy writer: the next report
    learns them again). A team whose reps see only their own deals keeps nothing: the whole
    book's forecast is a manager's figure."""
    from sqlalchemy import delete, insert

    from crm_tui.engines import BUSY_TIMEOUT_S
    from crm_tui.models import Meta

    sqlite = db.dialect.name == "sqlite"
    try:
        with db.engine.connect() as conn:  # type: ignore[attr-defined]
            raw = conn.connection.driver_connection
            if sqlite:  # never wait on another process's write for a figure we can learn again
                raw.execute("PRAGMA busy_timeout = 50")
            try:
                conn.execution_options(crm_write=True)
                with conn.begin():
                    if not sqlite:
                        conn.exec_driver_sql("SET LOCAL lock_timeout = '50ms'")
                        from crm_tui.team import SEE_KEY

                        policy = conn.execute(select(col(Meta.value)).where(col(Meta.key) == SEE_KEY)).scalar()
                        if policy == "own":  # and none left from before the policy
                            conn.execute(delete(Meta).where(col(Meta.key).in_(list(entries))))
                            return
                    conn.execute(delete(Meta).where(col(Meta.key).in_(list(entries))))
                    conn.execute(insert(Meta), [{"key": k, "value": v} for k, v in entries.items()])
            finally:
                if sqlite:
                    raw.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    except sa_exc.SQLAlchemyError:
        return  # read-only, not allowed, or busy: computed, not kept
