"""`crm-tui agenda`: a rep's day — overdue and due tasks in time order, deals with no next step,
rotting deals — as text, JSON, or an iCalendar file a calendar app can subscribe to.

Only the standard library at module level (``crm-tui --help`` stays fast).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_tui.queries.agenda import Agenda

#: how long a calendar event of each task kind lasts (a task has a due time, not a length)
EVENT_MINUTES = {"call": 15, "email": 15, "meeting": 60, "todo": 30}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "agenda",
        help="your day: overdue and due tasks, deals with no next step, rotting deals",
        description=(
            "Print a rep's agenda: overdue tasks, then what is due until the end of the last day asked for (in "
            "time order), then their open deals with no next step and their rotting deals. --format ics writes "
            "the tasks as an iCalendar file a calendar app can subscribe to."
        ),
    )
    parser.add_argument("--owner", metavar="NAME", help="whose agenda (default: you — $CRM_TUI_USER or settings)")
    parser.add_argument("--days", type=int, default=1, metavar="N", help="today and the next N-1 days (default 1)")
    parser.add_argument("--format", choices=("text", "json", "ics"), default="text")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (created 0600) instead of stdout")
    parser.set_defaults(handler=handler)
    return parser


def handler(args: argparse.Namespace, db_value: str | None) -> int:
    import json

    from crm_tui import validate
    from crm_tui.config import acting_user
    from crm_tui.db import Database
    from crm_tui.errors import ValidationError
    from crm_tui.queries.agenda import agenda, as_json

    if not 1 <= args.days <= 366:
        raise ValidationError(f"--days must be between 1 and 366, got {args.days}")
    owner = validate.text(args.owner, "--owner") if args.owner is not None else None
    if owner == "":
        raise ValidationError("--owner is empty; give the rep's name as it appears on their deals and tasks")
    db = Database.open(db_value, must_exist=True)
    if db.permission_warning:
        print(f"crm-tui: warning: {db.permission_warning}", file=sys.stderr)
    if owner is None:
        owner = acting_user(db)  # on a team's server: the login, not a name from the settings
    try:
        day = agenda(db, owner, now=dt.datetime.now(dt.UTC), days=args.days)
    finally:
        db.close()
    if args.format == "json":
        text = json.dumps(as_json(day), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "ics":
        text = ics(day)
    else:
        text = render_text(day)
    if args.output:
        _write(args.output, text, db_value)
    else:
        sys.stdout.write(text)
    return 0


def render_text(day: Agenda) -> str:
    from crm_tui.queries.agenda import NO_NEXT_STEP, ROTTING

    lines = [f"Agenda of {_plain(day.owner)} until {day.end.astimezone():%a %b %d %H:%M}"]
    tasks = day.tasks
    if not tasks:
        lines.append("  nothing due")
    for item in tasks:
        assert item.due is not None
        when = (
            "OVERDUE " + item.due.astimezone().strftime("%b %d %H:%M")
            if item.overdue
            else (item.due.astimezone().strftime("%a %H:%M"))
        )
        about = " · ".join(_plain(x) for x in (item.customer, item.deal) if x)
        lines.append(f"  {when:<20} {item.kind:<8} {_plain(item.subject)}" + (f"  ({about})" if about else ""))
    stale = [i for i in day.items if i.kind == NO_NEXT_STEP]
    rotting = [i for i in day.items if i.kind == ROTTING]
    if stale:
        lines.append("Deals with no next step:")
        lines += [f"  {_plain(i.deal)}" + (f"  ({_plain(i.customer)})" if i.customer else "") for i in stale]
    if rotting:
        lines.append("Rotting deals:")
        lines += [f"  {_plain(i.deal)}  {i.days_in_stage} days in stage" for i in rotting]
    return "\n".join(lines) + "\n"


def ics(day: Agenda) -> str:
    """The agenda's tasks as an iCalendar feed: one event per task at its due time, with a stable
    UID per task so a subscribed calendar updates events instead of duplicating them."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//crm-tui//agenda//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"crm-tui: {day.owner}")
    stamp = day.start.astimezone(dt.UTC)
    for item in day.tasks:
        assert item.due is not None and item.task_id is not None
        event = Event()
        event.add("uid", f"task-{item.task_id}@crm-tui")
        event.add("dtstamp", stamp)
        event.add("dtstart", item.due.astimezone(dt.UTC))
        event.add("dtend", item.due.astimezone(dt.UTC) + dt.timedelta(minutes=EVENT_MINUTES.get(item.kind, 30)))
        event.add("summary", f"{item.kind.capitalize()}: {item.subject}")
        about = " · ".join(x for x in (item.customer, item.deal) if x)
        if about:
            event.add("description", about)
        event.add("categories", [item.kind])
        if item.overdue:
            event.add("status", "NEEDS-ACTION")
        calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def _write(path: str, text: str, db_value: str | None) -> None:
    import os
    from pathlib import Path

    from crm_tui.errors import ValidationError

    target = Path(path).expanduser()
    tmp = target.with_name(f".{target.name}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)  # a calendar app reading the file sees the old one or the new one
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ValidationError(f"cannot write {target}: {exc.strerror or exc}; choose another path with -o") from None


def _plain(text: str) -> str:
    """Text from the database, never sent to the terminal as control sequences."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
