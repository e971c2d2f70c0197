"""Activity figures (the rep's day): activities done per owner and kind in the period, and how
they went (the outcome mix).

An activity is a task with ``done_at`` set, of any kind (``TASK_KINDS``: call, email, meeting,
to-do), counted in the period by the UTC date of ``done_at`` and for the owner of ``Filters``.
Its outcome is what ``log_activity`` recorded (``TASK_OUTCOMES``); a task ticked done without
logging, or done before outcomes existed, has none: "not recorded". A task that counts nowhere
else (deleted, cancelled with its deal, its customer or deal deleted) counts nowhere here.

One grouped sum (owner × kind × outcome → count) over the kept task figures; the owner rows,
the per-kind totals and the outcome mix are summed from its few rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crm_tui.metrics._common import Filters, rate
from crm_tui.models import FIG_TASK, TASK_KINDS, TASK_OUTCOMES

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


def activity_counts(conn: Connection, filters: Filters) -> list[tuple[str, str, str | None, int]]:
    """(owner, kind, outcome, count) of the activities done in the period, summed from the task
    figures the database keeps (``crm_tui.kept``: a cell per owner, kind, outcome and day done)."""
    t = FIG_TASK.c
    n = func.sum(t.n)
    q = select(t.owner, t.kind, t.outcome, n).where(t.done_day != "")
    if filters.since is not None:
        q = q.where(t.done_day >= filters.since.isoformat())
    if filters.until is not None and filters.until < dt.date.max:
        q = q.where(t.done_day <= filters.until.isoformat())
    if filters.owner is not None:
        q = q.where(t.owner == filters.owner)
    q = q.group_by(t.owner, t.kind, t.outcome).having(n != 0)
    return [(owner or "", kind, outcome or None, int(count)) for owner, kind, outcome, count in conn.execute(q)]


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
