"""A rep's day: what is overdue, what is due in the next days in time order, then their deals
with no next step and their rotting deals — the read side of ``crm-tui agenda``.

An agenda belongs to one owner. Its items are open tasks (overdue first, then in due order up to
``days`` local days from today) and, after them, open deals of that owner with no open task
(every deal needs a next step) and open deals rotting in their stage. Soft-deleted records and
records of deleted customers or deals are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func

from crm_tui.columns import col, pk
from crm_tui.models import UTC, Customer, Deal, Task
from crm_tui.queries.tasks import TaskQueue, TaskRow, group_of, live_tasks, local_day_end, stalled_deals

if TYPE_CHECKING:
    from crm_tui.db import Database

#: the kinds of an agenda item that are not tasks
NO_NEXT_STEP = "no_next_step"
ROTTING = "rotting"


@dataclass(frozen=True)
class AgendaItem:
    kind: str  # a task's kind (call, email, meeting, todo), or no_next_step / rotting for a deal
    subject: str
    due: dt.datetime | None  # UTC; None for a deal item
    customer: str
    deal: str
    overdue: bool
    task_id: int | None = None
    deal_id: int | None = None
    days_in_stage: int | None = None  # a rotting deal's


@dataclass(frozen=True)
class Agenda:
    owner: str
    start: dt.datetime  # now (UTC)
    end: dt.datetime  # the end of the last local day it covers (UTC)
    items: tuple[AgendaItem, ...]

    @property
    def tasks(self) -> tuple[AgendaItem, ...]:
        return tuple(i for i in self.items if i.task_id is not None)


#: what an agenda item of a task is read from
_ITEM_COLUMNS = (
    pk(Task.id),
    col(Task.kind),
    col(Task.subject),
    col(Task.due_at),
    col(Customer.name),
    col(Deal.title),
    col(Task.deal_id),
)


def agenda(db: Database, owner: str, *, now: dt.datetime, days: int = 1, tz: dt.tzinfo | None = None) -> Agenda:
    """``owner``'s agenda from ``now`` to the end of the ``days``-th local day (1: today)."""
    now = now.astimezone(UTC)
    end = local_day_end(now, tz)
    for _ in range(days - 1):
        end = local_day_end(end + dt.timedelta(hours=1), tz)
    tasks_q = (
        live_tasks(*_ITEM_COLUMNS)
        .where(col(Task.owner) == owner, col(Task.done_at).is_(None), col(Task.due_at) < end)
        .order_by(col(Task.due_at), pk(Task.id))
    )
    items: list[AgendaItem] = []
    stale: list[AgendaItem] = []
    rotting: list[AgendaItem] = []
    with db.read() as session:
        conn = session.connection()
        for tid, kind, subject, due, customer, deal, deal_id in conn.execute(tasks_q):
            due_at = _aware(due)
            items.append(AgendaItem(kind, subject, due_at, customer or "", deal or "", due_at < now, tid, deal_id))
        for d in stalled_deals(conn, owner, now):
            kind, into = (NO_NEXT_STEP, stale) if not d.has_next_step else (ROTTING, rotting)
            into.append(AgendaItem(kind, d.title, None, d.customer, d.title, False, None, d.deal_id, d.days_in_stage))
    return Agenda(owner, now, end, tuple(items + stale + rotting))


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def as_json(day: Agenda) -> dict[str, Any]:
    """The agenda as ``crm-tui agenda --format json`` prints it (times in UTC, ISO 8601)."""
    return {
        "owner": day.owner,
        "items": [
            {
                "kind": i.kind,
                "subject": i.subject,
                "due": i.due.astimezone(UTC).isoformat() if i.due else None,
                "customer": i.customer or None,
                "deal": i.deal or None,
                "overdue": i.overdue,
            }
            for i in day.items
        ],
    }


def coming_due(db: Database, owner: str, *, after: dt.datetime, until: dt.datetime) -> list[AgendaItem]:
    """``owner``'s open tasks due in (``after``, ``until``], soonest first: what a reminder
    announces while the app runs."""
    query = (
        live_tasks(*_ITEM_COLUMNS)
        .where(
            col(Task.owner) == owner,
            col(Task.done_at).is_(None),
            col(Task.due_at) > after.astimezone(UTC),
            col(Task.due_at) <= until.astimezone(UTC),
        )
        .order_by(col(Task.due_at), pk(Task.id))
    )
    with db.read() as session:
        return [
            AgendaItem(kind, subject, _aware(due), customer or "", deal or "", False, tid, deal_id)
            for tid, kind, subject, due, customer, deal, deal_id in session.connection().execute(query)
        ]


def day_first_lines(
    db: Database, *, now: dt.datetime, owner: str, tz: dt.tzinfo | None = None, limit: int = 200
) -> tuple[TaskQueue, dict[str, int]]:
    """The top of ``owner``'s day on the Tasks screen before the whole queue is read: their first
    ``limit`` open tasks with a due date (in ``load_tasks``' order: due, then priority, then id),
    grouped Overdue and Today, and how many each group has in all. Read along the owner's due
    dates in the ``ix_task_metrics`` index and stopped after ``limit``, so it costs the same on
    any book (the whole queue of a 300,000-customer book's busiest rep takes over a second)."""
    now = now.astimezone(UTC)
    day_end = local_day_end(now, tz)
    columns = (
        pk(Task.id),
        col(Task.kind),
        col(Task.subject),
        col(Task.due_at),
        col(Task.priority),
        col(Task.customer_id),
        col(Customer.name),
        col(Task.deal_id),
        col(Deal.title),
    )
    mine = (col(Task.owner) == owner, col(Task.done_at).is_(None))
    first = (
        live_tasks(*columns)
        .where(*mine, col(Task.due_at).is_not(None), col(Task.due_at) < day_end)
        .order_by(col(Task.due_at))
        .limit(limit + 1)
    )
    queue = TaskQueue()
    queue.groups = {"Overdue": [], "Today": []}
    with db.read() as session:
        conn = session.connection()
        rows = conn.execute(first).all()
        if len(rows) > limit:  # the last due time may have more tasks than were read: leave it to the whole read
            last = rows[-1][3]
            rows = [r for r in rows if r[3] != last] or rows[:limit]
        counts = {
            "Overdue": int(conn.execute(live_tasks(func.count()).where(*mine, col(Task.due_at) < now)).scalar() or 0),
            "Today": int(
                conn.execute(
                    live_tasks(func.count()).where(*mine, col(Task.due_at) >= now, col(Task.due_at) < day_end)
                ).scalar()
                or 0
            ),
        }
    ordered = sorted(rows, key=lambda r: (_aware(r[3]), -int(r[4] or 0), r[0]))
    for tid, kind, subject, due, prio, cid, cname, did, dtitle in ordered:
        due_at = _aware(due)
        group = group_of(due_at, None, now, day_end)
        queue.groups[group].append(
            TaskRow(tid, kind or "todo", subject, due_at, None, int(prio or 0), owner, cid, cname or "", did,
                    dtitle or "", group)
        )  # fmt: skip
    return queue, counts
