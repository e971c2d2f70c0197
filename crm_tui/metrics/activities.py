"""Activity figures (the rep's day): activities done per owner and kind in the period, and how
they went (the outcome mix).

An activity is a task with ``done_at`` set, of any kind (``TASK_KINDS``: call, email, meeting,
to-do), counted in the period by the UTC date of ``done_at`` and for the owner of ``Filters``.
Its outcome is what ``log_activity`` recorded (``TASK_OUTCOMES``); a task ticked done without
logging, or done before outcomes existed, has none: "not recorded". A task that counts nowhere
else (deleted, cancelled with its deal, its customer or deal deleted) counts nowhere here.

One grouped query (owner × kind × outcome → count) on the ``done_at`` indexes; the owner rows,
the per-kind totals and the outcome mix are summed from its few rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crm_tui.columns import col, pk
from crm_tui.engines import is_sqlite
from crm_tui.metrics._common import Filters, live_task, owner_cond, period_on, rate, unindexed
from crm_tui.models import TASK_KINDS, TASK_OUTCOMES, Task

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy import Connection

    from crm_tui.db import Database
    from crm_tui.metrics.shapes import ActivityOwnerRow, ActivityTotals, KindCounts, OutcomeRow

#: the kinds an activity is counted under, in column order (a kind the app does not know,
#: which only a hand-edited database can hold, counts as a to-do, as the import reads it)
KINDS: tuple[str, ...] = TASK_KINDS
#: the outcome of an activity done without one
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class OwnerActivities:
    """One owner's activities done in the period, per kind (in ``KINDS`` order)."""

    owner: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)

    def json(self) -> ActivityOwnerRow:
        call, email, meeting, todo = self.counts
        return {
            "owner": self.owner,
            "call": call,
            "email": email,
            "meeting": meeting,
            "todo": todo,
            "total": self.total,
        }


@dataclass(frozen=True)
class ActivityFigures:
    """Activities done in the period: per owner × kind, per kind, and per outcome."""

    by_owner: tuple[OwnerActivities, ...]  # most activities first, then by name
    by_kind: tuple[int, ...]  # in ``KINDS`` order
    outcomes: tuple[tuple[str, int], ...]  # every outcome in ``TASK_OUTCOMES`` order, then "not recorded"

    @property
    def total(self) -> int:
        return sum(self.by_kind)

    def share(self, count: int) -> float | None:
        """``count`` ÷ all activities, 4 decimals (None when there are none)."""
        return rate(count, self.total)

    def json(self) -> ActivityTotals:
        outcomes: list[OutcomeRow] = [
            {"outcome": outcome, "count": n, "share": self.share(n)} for outcome, n in self.outcomes
        ]
        return {
            "total": self.total,
            "by_kind": kind_counts(self.by_kind),
            "by_owner": [row.json() for row in self.by_owner],
            "outcomes": outcomes,
        }


def kind_counts(counts: tuple[int, ...]) -> KindCounts:
    """Counts in ``KINDS`` order as the JSON's ``{call, email, meeting, todo}``."""
    call, email, meeting, todo = counts
    return {"call": call, "email": email, "meeting": meeting, "todo": todo}


#: a task read through an index costs about as much as this many tasks read by a scan of the
#: table (SQLite, 300k tasks: the 170k done in 12 months read by the done_at index 1.2 s, by a
#: scan 0.45 s; the 2k of a month 0.05 s by the index, 0.3 s by a scan)
SCAN_CROSSOVER = 5


def activity_counts(conn: Connection, filters: Filters) -> list[tuple[str, str, str | None, int]]:
    """(owner, kind, outcome, count) of the activities done in the period: one grouped query
    (on SQLite after a count of the period's tasks on the done_at index, which picks its plan)."""
    # The plan. PostgreSQL picks its own from its statistics. SQLite has none, and left to
    # itself walks ix_task_metrics (deleted_at, owner, done_at...) for every live task and
    # reads the table for each; so: one owner's activities come from that index (its owner and
    # done_at range); everyone's from ix_task_open_due's done_at range when the period holds few
    # tasks, else from one scan of the table (all time: always).
    done_at = col(Task.done_at)
    everyone = filters.owner is None
    scan = everyone and is_sqlite(conn.dialect) and _scan_is_cheaper(conn, filters)
    n = func.count().label("n")
    q = (
        select(col(Task.owner), col(Task.kind), col(Task.outcome), n)
        .where(
            (unindexed(done_at) if scan else done_at).is_not(None),
            period_on(unindexed(done_at) if scan else done_at, filters),
            owner_cond(col(Task.owner), filters),
            live_task(unindexed(col(Task.deleted_at)) if everyone else None),
        )
        .group_by(col(Task.owner), col(Task.kind), col(Task.outcome))
    )
    return [(owner or "", kind, outcome, int(count)) for owner, kind, outcome, count in conn.execute(q)]


def _scan_is_cheaper(conn: Connection, filters: Filters) -> bool:
    """Reading the whole task table costs less than reading the period's tasks by the done_at
    index: all time, or a period holding more than 1 / SCAN_CROSSOVER of the tasks (counted on
    the index alone, without reading the table)."""
    if filters.since is None and filters.until is None:
        return True
    done_at = col(Task.done_at)
    in_period = conn.execute(select(func.count()).where(done_at.is_not(None), period_on(done_at, filters))).scalar()
    tasks = conn.execute(select(func.max(pk(Task.id)))).scalar()  # the rowid: no count of the table
    return int(in_period or 0) * SCAN_CROSSOVER > int(tasks or 0)


def figures_from_counts(rows: Iterable[tuple[str, str, str | None, int]]) -> ActivityFigures:
    """The section from the grouped counts: owner rows, totals per kind and the outcome mix."""
    column = {kind: i for i, kind in enumerate(KINDS)}
    todo = column["todo"]
    per_owner: dict[str, list[int]] = defaultdict(lambda: [0] * len(KINDS))
    by_kind = [0] * len(KINDS)
    per_outcome: dict[str, int] = dict.fromkeys(TASK_OUTCOMES, 0)
    not_recorded = 0
    for owner, kind, outcome, count in rows:
        i = column.get(kind, todo)
        per_owner[owner][i] += count
        by_kind[i] += count
        if outcome is None or outcome == "":
            not_recorded += count
        else:  # an outcome the app does not know (a hand-edited database) is listed by its own name
            per_outcome[outcome] = per_outcome.get(outcome, 0) + count
    owners = sorted(per_owner.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    known = [(o, per_outcome.pop(o)) for o in TASK_OUTCOMES]
    others = sorted(per_outcome.items())
    return ActivityFigures(
        by_owner=tuple(OwnerActivities(owner, tuple(counts)) for owner, counts in owners),
        by_kind=tuple(by_kind),
        outcomes=(*known, *others, (NOT_RECORDED, not_recorded)),
    )


def activity_totals(conn: Connection, filters: Filters) -> ActivityFigures:
    """The ``activities`` section of the report for ``filters``."""
    return figures_from_counts(activity_counts(conn, filters))


def activity_figures(db: Database, filters: Filters = Filters()) -> ActivityFigures:
    """The activity figures alone, in their own read transaction."""
    with db.read() as session:
        return activity_totals(session.connection(), filters)
