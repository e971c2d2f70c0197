"""Read side of the task queue: Overdue / Today / Upcoming / Done.

Grouping rules (decided here, tested in tests/unit/test_queries_tasks.py):

- Overdue: open and due before now (same as ``metrics`` "overdue"), whatever the day.
- Today: open, due from now until the end of the user's LOCAL calendar day
  (``tz``; the machine's zone by default): what is still to do today.
- Upcoming: open and due after the local day ends, then open tasks with no due date.
- Done: completed within the last ``done_days`` days (by ``now``), newest first.

Soft-deleted tasks, and tasks of deleted customers or deals, are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, or_, select

from crm_tui.columns import col, pk
from crm_tui.models import UTC, Customer, Deal, Stage, Task

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.engine import Connection

    from crm_tui.db import Database

GROUPS = ("Overdue", "Today", "Upcoming", "Done")
#: a rep's own day also lists their open deals that wait on them: no next step, or rotting
NO_NEXT_STEP, ROTTING = "No next step", "Rotting"
#: the order on screen: the day's tasks, then the deals that need the rep, then the rest
ORDER = ("Overdue", "Today", NO_NEXT_STEP, ROTTING, "Upcoming", "Done")
DONE_DAYS = 14


@dataclass(frozen=True)
class TaskRow:
    id: int
    kind: str
    subject: str
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    priority: int
    owner: str
    customer_id: int | None
    customer: str
    deal_id: int | None
    deal: str
    group: str
    #: a deal waiting on the rep (group No next step or Rotting), not a task: ``id`` is the deal's
    deal_item: bool = False
    days_in_stage: int | None = None

    @property
    def key(self) -> tuple[bool, int]:
        """What identifies the line (a task and a deal may share an id)."""
        return (self.deal_item, self.id)


@dataclass
class TaskQueue:
    groups: dict[str, list[TaskRow]] = field(default_factory=lambda: {g: [] for g in GROUPS})

    def counts(self) -> dict[str, int]:
        return {g: len(rows) for g, rows in self.groups.items()}


def local_day_end(now: dt.datetime, tz: dt.tzinfo | None) -> dt.datetime:
    """The first instant (UTC) of the local day after ``now``'s local day."""
    local = now.astimezone(tz) if tz is not None else now.astimezone()
    nxt = local.date() + dt.timedelta(days=1)
    start = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz if tz is not None else local.tzinfo)
    return start.astimezone(UTC)


def live_tasks(*columns: Any) -> Select[Any]:
    """``select(*columns)`` over tasks joined to their customer and deal (outer), leaving out
    deleted tasks and tasks of deleted customers or deals: what every task list shows."""
    return (
        select(*columns)
        .select_from(Task)
        .join(Customer, pk(Customer.id) == col(Task.customer_id), isouter=True)
        .join(Deal, pk(Deal.id) == col(Task.deal_id), isouter=True)
        .where(
            col(Task.deleted_at).is_(None),
            or_(col(Task.customer_id).is_(None), col(Customer.deleted_at).is_(None)),
            or_(col(Task.deal_id).is_(None), col(Deal.deleted_at).is_(None)),
        )
    )


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def group_of(due_at: dt.datetime | None, done_at: dt.datetime | None, now: dt.datetime, day_end: dt.datetime) -> str:
    if done_at is not None:
        return "Done"
    if due_at is None or due_at >= day_end:
        return "Upcoming"
    if due_at < now:
        return "Overdue"
    return "Today"


@dataclass(frozen=True)
class StalledDeal:
    deal_id: int
    title: str
    customer_id: int | None
    customer: str
    days_in_stage: int
    rotting: bool  # has a next step but sat in its stage past the stage's rot threshold
    has_next_step: bool


def stalled_deals(conn: Connection, owner: str, now: dt.datetime) -> list[StalledDeal]:
    """``owner``'s open deals with no open task, then those rotting in their stage; longest in
    their stage first."""
    has_next_step = exists().where(
        col(Task.deal_id) == pk(Deal.id), col(Task.done_at).is_(None), col(Task.deleted_at).is_(None)
    )
    deals_q = (
        select(
            pk(Deal.id),
            col(Deal.title),
            col(Deal.customer_id),
            col(Customer.name),
            col(Deal.stage_entered_at),
            col(Stage.rot_days),
            has_next_step,
        )
        .join(Stage, pk(Stage.id) == col(Deal.stage_id))
        .join(Customer, pk(Customer.id) == col(Deal.customer_id), isouter=True)
        .where(
            col(Deal.owner) == owner,
            col(Deal.deleted_at).is_(None),
            col(Stage.outcome) == "open",
            or_(col(Deal.customer_id).is_(None), col(Customer.deleted_at).is_(None)),
        )
        .order_by(col(Deal.stage_entered_at), pk(Deal.id))
    )
    stale: list[StalledDeal] = []
    rotting: list[StalledDeal] = []
    for deal_id, title, customer_id, customer, entered, rot_days, has_step in conn.execute(deals_q):
        entered_at = _aware(entered) or now
        in_stage = max(0, (now - entered_at).days)
        rots = rot_days is not None and entered_at < now - dt.timedelta(days=int(rot_days))
        if not has_step:
            stale.append(StalledDeal(deal_id, title, customer_id, customer or "", in_stage, rots, False))
        elif rots:
            rotting.append(StalledDeal(deal_id, title, customer_id, customer or "", in_stage, True, True))
    return stale + rotting


def load_tasks(
    db: Database,
    *,
    now: dt.datetime,
    tz: dt.tzinfo | None = None,
    owner: str | None = None,
    done_days: int = DONE_DAYS,
    deals: bool = False,
) -> TaskQueue:
    """The queue in display order: one query for open tasks, one for recently done; with
    ``deals`` (and an ``owner``) also the owner's deals with no next step and rotting deals."""
    now = now.astimezone(UTC)
    day_end = local_day_end(now, tz)
    base = live_tasks(
        pk(Task.id),
        col(Task.kind),
        col(Task.subject),
        col(Task.due_at),
        col(Task.done_at),
        col(Task.priority),
        col(Task.owner),
        col(Task.customer_id),
        col(Customer.name),
        col(Task.deal_id),
        col(Deal.title),
    )
    if owner:
        base = base.where(col(Task.owner) == owner)
    open_q = base.where(col(Task.done_at).is_(None)).order_by(
        col(Task.due_at).is_(None), col(Task.due_at), col(Task.priority).desc(), pk(Task.id)
    )
    done_q = base.where(col(Task.done_at) >= now - dt.timedelta(days=done_days)).order_by(
        col(Task.done_at).desc(), pk(Task.id).desc()
    )
    queue = TaskQueue()
    with db.read() as session:
        conn = session.connection()
        for q in (open_q, done_q):
            for tid, kind, subject, due, done, prio, own, cid, cname, did, dtitle in conn.execute(q):
                due, done = _aware(due), _aware(done)
                g = group_of(due, done, now, day_end)
                queue.groups[g].append(
                    TaskRow(
                        tid,
                        kind or "todo",
                        subject,
                        due,
                        done,
                        int(prio or 0),
                        own or "",
                        cid,
                        cname or "",
                        did,
                        dtitle or "",
                        g,
                    )
                )
        if deals and owner:
            queue.groups[NO_NEXT_STEP], queue.groups[ROTTING] = [], []
            for d in stalled_deals(conn, owner, now):
                group = NO_NEXT_STEP if not d.has_next_step else ROTTING
                queue.groups[group].append(
                    TaskRow(
                        d.deal_id,
                        "deal",
                        d.title,
                        None,
                        None,
                        1,
                        owner,
                        d.customer_id,
                        d.customer,
                        d.deal_id,
                        d.title,
                        group,
                        deal_item=True,
                        days_in_stage=d.days_in_stage,
                    )
                )
    return queue


def day_count(db: Database, owner: str, *, now: dt.datetime, tz: dt.tzinfo | None = None) -> int:
    """How many of ``owner``'s open tasks are overdue or due by the end of their local day."""
    from sqlalchemy import func

    end = local_day_end(now.astimezone(UTC), tz)
    query = live_tasks(func.count(pk(Task.id))).where(
        col(Task.owner) == owner, col(Task.done_at).is_(None), col(Task.due_at) < end
    )
    with db.read() as session:
        return int(session.execute(query).scalar() or 0)


def relative_due(due_at: dt.datetime | None, now: dt.datetime) -> str:
    """'3d overdue', '2h overdue', 'in 5h', 'in 2d', 'no due date'."""
    if due_at is None:
        return "no due date"
    delta = due_at - now
    seconds = abs(delta.total_seconds())
    if seconds < 3600:
        amount = f"{int(seconds // 60)}m"
    elif seconds < 86400:
        amount = f"{int(seconds // 3600)}h"
    else:
        amount = f"{int(seconds // 86400)}d"
    return f"{amount} overdue" if delta.total_seconds() < 0 else f"in {amount}"


def deal_without_next_step(db: Database, deal_id: int) -> str | None:
    """The title of deal ``deal_id`` when it is open and has no open task left (it needs a next
    step); ``None`` when it is closed, deleted or already has one."""
    with db.read() as session:
        deal = session.execute(
            select(col(Deal.title))
            .join(Stage, col(Stage.id) == col(Deal.stage_id))
            .where(pk(Deal.id) == deal_id, col(Deal.deleted_at).is_(None), col(Stage.outcome) == "open")
        ).scalar()
        if deal is None:
            return None
        waiting = session.execute(
            select(pk(Task.id))
            .where(col(Task.deal_id) == deal_id, col(Task.done_at).is_(None), col(Task.deleted_at).is_(None))
            .limit(1)
        ).first()
    return None if waiting is not None else str(deal)
