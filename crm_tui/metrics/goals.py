"""Goals tracked live: each goal's progress in the period containing ``now``, and what it takes.

Periods are the rep's local calendar (``tz``; None: this machine's zone): a week starts on
Monday, a month, quarter or year on its first day at 00:00 local. A deal won at 23:59 local on
the last day of a month counts in that month, whatever its UTC date.

What a goal counts (its owner's, or everyone's when the owner is blank; only its pipeline's
deals when it names one; soft-deleted deals, tasks and customers never count):

- ``won_value``: the amounts of the deals won in the period, summed per currency in SQL and
  converted to the home currency (``crm_tui.money``; a currency with no rate is left out and named);
- ``deals_won``: how many were won; ``deals_added``: deals created in the period;
- ``deals_advanced``: deals moved into the goal's stage in the period (each deal once);
- ``activities_done``: tasks (calls, emails, meetings, to-dos) done in the period.

Pace compares the actual with the target × the share of the period gone by: on pace (▲) when
it is at least that. **What it takes** (won_value and deals_won goals not yet met) reads the
owner's own history over the ``LOOKBACK_DAYS`` before ``now``: win rate (won ÷ closed by
count), average won deal and average cycle; the deals still needed (remaining ÷ average won
deal), the pipeline coverage needed (remaining ÷ win rate) and the open pipeline expected to
close in the period (``expected_close`` within it), and whether that covers it.

Queries are bounded: per distinct period among the goals, one grouped read per kind of goal set
for it (won, added, advanced into a stage, activities), plus one for the history and one per period
for the due pipeline when what it takes is asked for — never one per goal or per deal. Deals are
grouped by stage (the pipeline follows from it) so the deal indexes answer without table reads. On a
60,000-deal demo book the board's read (won value and "advanced into" goals) takes ~30 ms; every
goal of six, with what it takes, ~130 ms.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import distinct, func, select

from crm_tui.columns import col, pk
from crm_tui.dates import add_months, local_to_utc
from crm_tui.metrics._common import ids_by_outcome, live_deal, live_task, load_stages, unindexed, utc_now
from crm_tui.models import GOAL_PERIODS, Deal, Goal, StageChange, Task
from crm_tui.textnorm import cents_to_major

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import Dialect

    from crm_tui.db import Database
    from crm_tui.metrics.shapes import GoalRow
    from crm_tui.money import Rates

#: the history "what it takes" reads: the days before now
LOOKBACK_DAYS = 180
MONEY_METRICS = ("won_value",)


@dataclass(frozen=True)
class Period:
    kind: str  # GOAL_PERIODS
    first: dt.date  # local, inclusive
    end: dt.date  # local, exclusive
    start_utc: dt.datetime
    end_utc: dt.datetime

    @property
    def label(self) -> str:
        """'Dec', 'W49', 'Q4', '2026'."""
        if self.kind == "month":
            return self.first.strftime("%b")
        if self.kind == "week":
            return f"W{self.first.isocalendar()[1]:02d}"
        if self.kind == "quarter":
            return f"Q{(self.first.month - 1) // 3 + 1}"
        return str(self.first.year)

    @property
    def last(self) -> dt.date:
        return self.end - dt.timedelta(days=1)


def period_containing(kind: str, now: dt.datetime, tz: dt.tzinfo | None = None) -> Period:
    """The local calendar period of ``kind`` that ``now`` falls in."""
    today = utc_now(now).astimezone(tz).date()
    if kind == "week":
        first = today - dt.timedelta(days=today.weekday())
        end = first + dt.timedelta(days=7)
    elif kind == "month":
        first = today.replace(day=1)
        end = add_months(first, 1)
    elif kind == "quarter":
        first = dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        end = add_months(first, 3)
    elif kind == "year":
        first = dt.date(today.year, 1, 1)
        end = dt.date(today.year + 1, 1, 1)
    else:
        raise ValueError(f"unknown period {kind!r}; one of {', '.join(GOAL_PERIODS)}")

    def at(day: dt.date) -> dt.datetime:
        return local_to_utc(dt.datetime.combine(day, dt.time()), tz)

    return Period(kind, first, end, at(first), at(end))


@dataclass(frozen=True)
class WhatItTakes:
    """For a goal not yet met, from its owner's history (None: no history to tell)."""

    remaining: int  # cents for won_value, a count otherwise
    win_rate: float | None  # won ÷ closed, by count, over the lookback
    avg_won_cents: int | None
    avg_cycle_days: float | None
    deals_needed: int | None  # more wins at the average won deal (won_value) or the remaining count
    coverage_needed: int | None  # remaining ÷ win rate: cents for won_value, deals for deals_won
    due: int  # open pipeline expected to close in the period: cents (won_value) or deals
    enough: bool | None  # due ≥ coverage needed

    def json(self, money: bool) -> dict[str, Any]:
        def m(v: int | None) -> int | float | None:
            return None if v is None else (cents_to_major(v) if money else v)

        return {
            "remaining": m(self.remaining),
            "win_rate": None if self.win_rate is None else round(self.win_rate, 4),
            "avg_won_value": None if self.avg_won_cents is None else cents_to_major(self.avg_won_cents),
            "avg_cycle_days": None if self.avg_cycle_days is None else round(self.avg_cycle_days, 1),
            "deals_needed": self.deals_needed,
            "coverage_needed": m(self.coverage_needed),
            "due": m(self.due),
            "enough": self.enough,
        }


@dataclass(frozen=True)
class GoalProgress:
    id: int
    owner: str
    metric: str
    period: Period
    target: int  # cents for won_value, a count otherwise
    actual: int
    elapsed: float  # 0..1 share of the period gone by
    days_left: int  # local days left, today included
    stage_id: int | None = None
    stage_name: str = ""
    pipeline_id: int | None = None
    missing: frozenset[str] = frozenset()  # currencies left out for want of a rate
    takes: WhatItTakes | None = None

    @property
    def money(self) -> bool:
        return self.metric in MONEY_METRICS

    @property
    def attainment(self) -> float:
        return self.actual / self.target if self.target else 0.0

    @property
    def expected(self) -> float:
        """Where the actual should be by now: target × elapsed share."""
        return self.target * self.elapsed

    @property
    def on_pace(self) -> bool:
        return self.actual >= self.expected

    @property
    def met(self) -> bool:
        return self.actual >= self.target

    def json(self) -> GoalRow:
        """The report's ``goals`` row: money in major units of the home currency."""

        def m(v: int) -> int | float:
            return cents_to_major(v) if self.money else v

        return {
            "owner": self.owner,
            "metric": self.metric,
            "period": self.period.kind,
            "start": self.period.first.isoformat(),
            "end": self.period.last.isoformat(),
            "target": m(self.target),
            "actual": m(self.actual),
            "attainment": round(self.attainment, 4),
        }

    def json_full(self) -> dict[str, Any]:
        """Everything ``crm-tui goal list --format json`` shows."""
        out: dict[str, Any] = {"id": self.id, **self.json()}
        out.update(
            {
                "stage": self.stage_name or None,
                "elapsed": round(self.elapsed, 4),
                "days_left": self.days_left,
                "on_pace": self.on_pace,
                "what_it_takes": None if self.takes is None else self.takes.json(self.money),
            }
        )
        return out


# -- the reads -------------------------------------------------------------------------------


def goal_progress(
    db: Database,
    *,
    now: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
    owner: str | None = None,
    takes: bool = True,
    metrics: Sequence[str] | None = None,
) -> list[GoalProgress]:
    """Every live goal's progress in its period containing ``now`` (``owner``: only that
    owner's goals; ``metrics``: only goals of these metrics), with what it takes for the ones
    not yet met (``takes``), in one read transaction."""
    with db.read() as session:
        return goal_progress_on(
            session.connection(), db.dialect, now=now, tz=tz, owner=owner, takes=takes, metrics=metrics
        )


def goal_progress_on(
    conn: Connection,
    dialect: Dialect,
    *,
    now: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
    owner: str | None = None,
    takes: bool = True,
    metrics: Sequence[str] | None = None,
) -> list[GoalProgress]:
    """``goal_progress`` on an open connection (the board's and the report's own reads)."""
    from sqlmodel import Session

    from crm_tui.money import load_rates

    now = utc_now(now)
    q = select(Goal).where(col(Goal.archived_at).is_(None))
    if owner is not None:
        q = q.where(col(Goal.owner) == owner)
    if metrics is not None:
        q = q.where(col(Goal.metric).in_(list(metrics)))
    session = Session(bind=conn)
    goals: list[Goal] = list(session.execute(q).scalars().all())
    if not goals:
        return []
    rates = load_rates(session)
    stages = load_stages(conn)
    names = {s.id: s.name for s in stages}
    ids = ids_by_outcome(stages)
    pipeline_of = {s.id: s.pipeline_id for s in stages}
    periods = {kind: period_containing(kind, now, tz) for kind in sorted({g.period for g in goals})}
    counts = {
        kind: _period_counts(conn, ids, pipeline_of, p, [g for g in goals if g.period == kind])
        for kind, p in periods.items()
    }
    history = _history(conn, dialect, ids, pipeline_of, now) if takes else None
    due = _due(conn, ids["open"], pipeline_of, periods) if takes else {}
    today = now.astimezone(tz).date()
    out: list[GoalProgress] = []
    for g in sorted(goals, key=lambda g: (g.owner != "", g.owner, g.metric, g.period, g.id)):
        p = periods[g.period]
        c = counts[g.period]
        actual, missing = _actual(c, g, rates)
        span = (p.end_utc - p.start_utc).total_seconds()
        elapsed = min(1.0, max(0.0, (now - p.start_utc).total_seconds() / span)) if span > 0 else 1.0
        progress = GoalProgress(
            id=g.id or 0,
            owner=g.owner,
            metric=g.metric,
            period=p,
            target=g.target,
            actual=actual,
            elapsed=elapsed,
            days_left=max(0, (p.end - today).days),
            stage_id=g.stage_id,
            stage_name=names.get(g.stage_id, "") if g.stage_id is not None else "",
            pipeline_id=g.pipeline_id,
            missing=missing,
        )
        if history is not None and not progress.met and g.metric in ("won_value", "deals_won"):
            progress = _with_takes(progress, g, history, due[g.period], rates)
        out.append(progress)
    return out


# one group of counted rows: (owner, pipeline_id, extra key) → value
_Groups = dict[tuple[str, int | None, Any], int]


@dataclass
class _Counts:
    won_cents: _Groups  # extra: currency
    won_count: _Groups  # extra: None
    added: _Groups  # extra: None
    advanced: _Groups  # extra: to stage id
    activities: dict[str, int]


def _period_counts(
    conn: Connection, ids: dict[str, list[int]], pipeline_of: dict[int, int], p: Period, goals: Sequence[Goal]
) -> _Counts:
    """Up to four grouped reads for the period, one per kind of goal set for it: won deals, added
    deals, stage entries, activities. Deals are grouped by stage (their pipeline follows from it),
    so each read is answered from a deal index without reading the deals themselves."""
    wanted = {g.metric for g in goals}
    won_cents: _Groups = defaultdict(int)
    won_count: _Groups = defaultdict(int)
    if ids["won"] and wanted & {"won_value", "deals_won"}:
        q = (
            select(
                col(Deal.owner),
                col(Deal.stage_id),
                col(Deal.currency),
                func.count(),
                func.sum(col(Deal.amount_cents)),
            )
            .where(
                col(Deal.stage_id).in_(ids["won"]),
                col(Deal.closed_at) >= p.start_utc,
                col(Deal.closed_at) < p.end_utc,
                live_deal(),
            )
            .group_by(col(Deal.owner), col(Deal.stage_id), col(Deal.currency))
        )
        for who, sid, cur, n, cents in conn.execute(q):
            won_cents[(who, pipeline_of.get(sid), cur)] += int(cents or 0)
            won_count[(who, pipeline_of.get(sid), None)] += int(n)
    added: _Groups = defaultdict(int)
    every_stage = set(ids["open"] + ids["won"] + ids["lost"])  # a deal in an archived stage counts for none
    if "deals_added" in wanted and every_stage:
        q2 = (
            select(col(Deal.owner), col(Deal.stage_id), func.count())
            .where(
                # the period's deals through the creation-time index, never every deal: no stage test here
                col(Deal.created_at) >= p.start_utc,
                col(Deal.created_at) < p.end_utc,
                live_deal(),
            )
            .group_by(col(Deal.owner), col(Deal.stage_id))
        )
        for who, sid, n in conn.execute(q2):
            if sid in every_stage:
                added[(who, pipeline_of.get(sid), None)] += int(n)
    advanced: _Groups = defaultdict(int)
    into = sorted({g.stage_id for g in goals if g.metric == "deals_advanced" and g.stage_id is not None})
    if into:
        q3 = (
            select(
                col(Deal.owner),
                col(Deal.stage_id),
                col(StageChange.to_stage_id),
                func.count(distinct(col(StageChange.deal_id))),
            )
            .join(Deal, pk(Deal.id) == col(StageChange.deal_id))
            .where(
                # the entries into the stage in the period through ix_stage_change_into, then each
                # one's deal by its id: never every deal
                col(StageChange.to_stage_id).in_(into),
                col(StageChange.at) >= p.start_utc,
                col(StageChange.at) < p.end_utc,
                col(StageChange.from_stage_id).is_not(None),  # a move, not a deal created in the stage
                live_deal(),
            )
            .group_by(col(Deal.owner), col(Deal.stage_id), col(StageChange.to_stage_id))
        )
        for who, sid, stage_id, n in conn.execute(q3):
            if sid in every_stage:
                advanced[(who, pipeline_of.get(sid), stage_id)] += int(n)
    activities: dict[str, int] = defaultdict(int)
    if "activities_done" in wanted:
        q4 = (
            select(col(Task.owner), func.count())
            # the period's done tasks through the done-time index, not the index that leads with
            # deleted_at (every task)
            .where(
                col(Task.done_at) >= p.start_utc,
                col(Task.done_at) < p.end_utc,
                live_task(unindexed(col(Task.deleted_at))),
            )
            .group_by(col(Task.owner))
        )
        for who, n in conn.execute(q4):
            activities[who] += int(n)
    return _Counts(won_cents, won_count, added, advanced, activities)


def _mine(key: tuple[str, int | None, Any], g: Goal) -> bool:
    who, pid, _extra = key
    return (not g.owner or who == g.owner) and (g.pipeline_id is None or pid == g.pipeline_id)


def _actual(c: _Counts, g: Goal, rates: Rates) -> tuple[int, frozenset[str]]:
    if g.metric == "won_value":
        sums: dict[str, int] = defaultdict(int)
        for key, cents in c.won_cents.items():
            if _mine(key, g):
                sums[key[2]] += cents
        converted = rates.convert(sums.items())
        return converted.cents, converted.missing
    if g.metric == "deals_won":
        return sum(n for k, n in c.won_count.items() if _mine(k, g)), frozenset()
    if g.metric == "deals_added":
        return sum(n for k, n in c.added.items() if _mine(k, g)), frozenset()
    if g.metric == "deals_advanced":
        return sum(n for k, n in c.advanced.items() if _mine(k, g) and k[2] == g.stage_id), frozenset()
    if g.metric == "activities_done":
        return sum(n for who, n in c.activities.items() if not g.owner or who == g.owner), frozenset()
    return 0, frozenset()


@dataclass
class _History:
    # (owner, pipeline, currency) → won cents; (owner, pipeline, None) → counts and cycle days
    won_cents: _Groups
    won: _Groups
    lost: _Groups
    cycle_days: dict[tuple[str, int | None, Any], float]


def _history(
    conn: Connection, dialect: Dialect, ids: dict[str, list[int]], pipeline_of: dict[int, int], now: dt.datetime
) -> _History:
    """The deals closed in the lookback (whole UTC days), per owner, pipeline, currency and
    outcome: their count, amount and summed cycle days — summed from the kept deal figures
    (``crm_tui.kept``), a few cells per day, not the deals."""
    from crm_tui import kept

    h = _History(defaultdict(int), defaultdict(int), defaultdict(int), defaultdict(float))
    if not ids["won"] + ids["lost"]:
        return h
    since = (now - dt.timedelta(days=LOOKBACK_DAYS)).date().isoformat()
    won = set(ids["won"])
    for sid, who, cur, n, cents, _ocp, _damt, secs, _cn in kept.deal_cells(
        conn, [], ids["won"] + ids["lost"], since, now.date().isoformat(), None
    ):
        pid = pipeline_of.get(sid)
        if sid in won:
            h.won_cents[(who, pid, cur)] += cents
            h.won[(who, pid, None)] += n
            h.cycle_days[(who, pid, None)] += secs / 86400
        else:
            h.lost[(who, pid, None)] += n
    return h


def _due(
    conn: Connection, open_ids: Sequence[int], pipeline_of: dict[int, int], periods: dict[str, Period]
) -> dict[str, tuple[_Groups, _Groups]]:
    """Open deals expected to close in each period: period kind → ((owner, pipeline, currency) →
    cents, and → count). One read of the open deals for every period (by expected close day)."""
    out: dict[str, tuple[_Groups, _Groups]] = {kind: (defaultdict(int), defaultdict(int)) for kind in periods}
    if not open_ids or not periods:
        return out
    q = (
        select(
            col(Deal.owner),
            col(Deal.stage_id),
            col(Deal.currency),
            col(Deal.expected_close),
            func.count(),
            func.sum(col(Deal.amount_cents)),
        )
        .where(
            col(Deal.stage_id).in_(open_ids),
            col(Deal.expected_close) >= min(p.first for p in periods.values()),
            col(Deal.expected_close) < max(p.end for p in periods.values()),
            live_deal(),
        )
        .group_by(col(Deal.owner), col(Deal.stage_id), col(Deal.currency), col(Deal.expected_close))
    )
    for who, sid, cur, day, n, total in conn.execute(q):
        if day is None:  # never: the range excludes it (for the type checker)
            continue
        pid = pipeline_of.get(sid)
        for kind, p in periods.items():
            if p.first <= day < p.end:
                cents, count = out[kind]
                cents[(who, pid, cur)] += int(total or 0)
                count[(who, pid, None)] += int(n)
    return out


def _with_takes(
    progress: GoalProgress, g: Goal, h: _History, due: tuple[_Groups, _Groups], rates: Rates
) -> GoalProgress:
    from dataclasses import replace

    won = sum(n for k, n in h.won.items() if _mine(k, g))
    lost = sum(n for k, n in h.lost.items() if _mine(k, g))
    sums: dict[str, int] = defaultdict(int)
    for key, cents in h.won_cents.items():
        if _mine(key, g):
            sums[key[2]] += cents
    won_cents = rates.convert(sums.items()).cents
    cycle = sum(d for k, d in h.cycle_days.items() if _mine(k, g))
    win_rate = won / (won + lost) if won + lost else None
    avg_won = round(won_cents / won) if won else None
    avg_cycle = cycle / won if won else None
    remaining = progress.target - progress.actual
    due_sums: dict[str, int] = defaultdict(int)
    for key, cents in due[0].items():
        if _mine(key, g):
            due_sums[key[2]] += cents
    if g.metric == "won_value":
        deals_needed = math.ceil(remaining / avg_won) if avg_won else None
        coverage = math.ceil(remaining / win_rate) if win_rate else None
        due_amount = rates.convert(due_sums.items()).cents
    else:
        deals_needed = remaining
        coverage = math.ceil(remaining / win_rate) if win_rate else None
        due_amount = sum(n for k, n in due[1].items() if _mine(k, g))
    enough = None if coverage is None else due_amount >= coverage
    takes = WhatItTakes(remaining, win_rate, avg_won, avg_cycle, deals_needed, coverage, due_amount, enough)
    return replace(progress, takes=takes)


# -- words -----------------------------------------------------------------------------------


def money_text(cents: int) -> str:
    """120,000 or 120,000.50 (home currency, no symbol)."""
    units, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"{sign}{units:,}" if not rest else f"{sign}{units:,}.{rest:02d}"


def amount_text(progress: GoalProgress, value: int) -> str:
    return money_text(value) if progress.money else f"{value:,}"


METRIC_NOUN = {
    "won_value": "won",
    "deals_won": "deals won",
    "deals_added": "deals added",
    "deals_advanced": "advanced",
    "activities_done": "activities",
}


def bar_text(progress: GoalProgress) -> str:
    """'Dec: 61% of 120,000 won · 12 days left · on pace ▲' (plain text: no data in it is markup)."""
    p = progress
    noun = METRIC_NOUN.get(p.metric, p.metric)
    if p.metric == "deals_advanced" and p.stage_name:
        noun = f"into {p.stage_name}"
    days = "last day" if p.days_left == 1 else f"{p.days_left} days left"
    pace = "met ✓" if p.met else ("on pace ▲" if p.on_pace else "behind ▼")
    return f"{p.period.label}: {p.attainment * 100:.0f}% of {amount_text(p, p.target)} {noun} · {days} · {pace}"


def takes_text(progress: GoalProgress) -> str:
    """What it takes, in one line: 'needs 3 more deals at 12,000 · coverage 90,000 needed,
    42,000 due this month: short'."""
    t = progress.takes
    if progress.met:
        return "met"
    if t is None:
        return f"{amount_text(progress, progress.target - progress.actual)} to go"
    parts = [f"{amount_text(progress, t.remaining)} to go"]
    if t.win_rate is None:
        parts.append("no closed deals in the last 6 months to learn from")
        return " · ".join(parts)
    if progress.money and t.avg_won_cents:
        parts.append(f"≈{t.deals_needed} wins at {money_text(t.avg_won_cents)}")
    parts.append(f"win rate {t.win_rate * 100:.0f}%")
    if t.coverage_needed is not None:
        due = amount_text(progress, t.due)
        need = amount_text(progress, t.coverage_needed)
        verdict = "enough" if t.enough else "short"
        parts.append(f"needs {need} in pipeline, {due} due: {verdict}")
    return " · ".join(parts)


# -- the board -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardGoals:
    """What the board shows of the goals: the attainment line and each stage's "advanced into" goal."""

    line: str = ""  # "Dec: 61% of 120,000 won · 12 days left · on pace ▲"; "" when no such goal
    state: str = ""  # "met", "ahead" or "behind"
    stages: dict[int, str] = field(default_factory=dict)  # stage id → "3/5" (this period's of the target)


def _preferred(rows: Sequence[GoalProgress], user: str | None) -> GoalProgress | None:
    """The rep's own goal, else everyone's."""
    mine = [g for g in rows if user and g.owner == user]
    everyone = [g for g in rows if not g.owner]
    chosen = mine or everyone
    return chosen[0] if chosen else None


def board_goals(
    rows: Sequence[GoalProgress], *, user: str | None, stage_ids: Sequence[int] = (), period: str = "month"
) -> BoardGoals:
    """From ``goal_progress`` rows: the rep's (else everyone's) won_value goal of ``period``, and
    per stage of the board its deals_advanced goal (the rep's, else everyone's; a month's first)."""
    won = _preferred([g for g in rows if g.metric == "won_value" and g.period.kind == period], user)
    stages: dict[int, str] = {}
    order = {p: i for i, p in enumerate(("month", "week", "quarter", "year"))}
    for stage_id in stage_ids:
        into = sorted(
            (g for g in rows if g.metric == "deals_advanced" and g.stage_id == stage_id),
            key=lambda g: order.get(g.period.kind, 9),
        )
        chosen = _preferred(into, user)
        if chosen is not None:
            stages[stage_id] = f"{chosen.actual:,}/{chosen.target:,}"
    if won is None:
        return BoardGoals(stages=stages)
    state = "met" if won.met else "ahead" if won.on_pace else "behind"
    return BoardGoals(bar_text(won), state, stages)
