"""`crm-tui history`: what changed, who changed it and when, from the change journal.

Only the standard library at module level (``crm-tui --help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``crm-tui history`` on ``subparsers`` (``ArgumentParser.add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history",
        help="what changed, who changed it and when (newest first)",
        description=(
            "List the change journal: every committed change with who made it, when, and the fields it "
            "changed. Undone actions are marked."
        ),
    )
    parser.add_argument("--since", metavar="DATE", help="only changes on or after this date (YYYY-MM-DD, local)")
    parser.add_argument(
        "--record",
        metavar="KIND:ID",
        help="only changes of one record, e.g. deal:12 (customer, contact, deal, task, note, order, product)",
    )
    parser.add_argument("--limit", type=int, default=50, metavar="N", help="at most N entries (default 50)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=handler)
    return parser


def handler(args: argparse.Namespace, db_value: str | None) -> int:
    import datetime as dt
    import json

    from crm_tui import validate
    from crm_tui.db import Database
    from crm_tui.errors import ValidationError
    from crm_tui.queries.history import as_json, history, parse_record, summary

    since_day = validate.date(args.since, "--since")
    since = None
    if since_day is not None:
        try:
            since = dt.datetime(since_day.year, since_day.month, since_day.day).astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise ValidationError(f"--since {since_day} is out of range; give a date after 0001-01-01") from None
    record = parse_record(args.record) if args.record else None
    if not 1 <= args.limit <= 1_000_000:
        raise ValidationError(f"--limit must be between 1 and 1,000,000, got {args.limit}")
    db = Database.open(db_value, must_exist=True)
    if db.permission_warning:
        print(f"crm-tui: warning: {db.permission_warning}", file=sys.stderr)
    try:
        items = history(db, since=since, record=record, limit=args.limit)
    finally:
        db.close()
    if args.format == "json":
        sys.stdout.write(json.dumps(as_json(items), ensure_ascii=False, indent=2) + "\n")
        return 0
    if not items:
        print("No changes recorded" + (" for that record" if record else "") + (" since then" if since else "") + ".")
        return 0
    for item in items:
        when = item.at.astimezone().strftime("%Y-%m-%d %H:%M")
        mark = " (undone)" if item.undone else ""
        line = f"{when}  {_plain(item.who) or '—':<12} {_plain(item.action)}{mark}"
        detail = summary(item)
        print(line + (f"\n{'':18}{_plain(detail)}" if detail else ""))
    return 0


def _plain(text: str) -> str:
    """Text from the database, never sent to the terminal as control sequences."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
