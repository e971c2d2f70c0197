"""`crm-tui goal set|list|remove`: targets per owner (or everyone) and period, and their progress.

Only the standard library at module level (``crm-tui --help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

METRICS = ("won_value", "deals_won", "deals_added", "deals_advanced", "activities_done")  # models.GOAL_METRICS
PERIODS = ("week", "month", "quarter", "year")  # models.GOAL_PERIODS


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``crm-tui goal`` on ``subparsers`` (``ArgumentParser.add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "goal",
        help="set, list or remove goals (targets per owner and period) and see their progress",
        description=(
            "A goal is a target for every period of its kind (each week, month, quarter or year) for one owner "
            "or, with no --owner, for everyone. `goal list` shows each goal's progress in the current period."
        ),
    )
    actions = parser.add_subparsers(dest="goal_action", metavar="ACTION", required=True)
    p = actions.add_parser("set", help="create a goal, or change the target of the same owner's goal")
    p.add_argument("--metric", required=True, choices=METRICS)
    p.add_argument("--period", required=True, choices=PERIODS)
    p.add_argument(
        "--target",
        required=True,
        metavar="N",
        help="won_value: an amount in the home currency (120000 = 120,000.00); otherwise a count",
    )
    p.add_argument("--owner", default="", metavar="NAME", help="whose goal (default: everyone's)")
    p.add_argument("--stage", metavar="NAME", help="deals_advanced: the stage the deals must enter")
    p.add_argument("--pipeline", metavar="NAME", help="count only this pipeline's deals")
    p.set_defaults(handler=cmd_set)
    p = actions.add_parser("list", help="every goal and its progress in the current period")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--owner", metavar="NAME", help="only this owner's goals")
    p.set_defaults(handler=cmd_list)
    p = actions.add_parser("remove", help="stop tracking a goal (its history is kept)")
    p.add_argument("id", metavar="ID", help="the goal's id, as `goal list` shows it")
    p.set_defaults(handler=cmd_remove)
    for sub in actions.choices.values():
        sub.add_argument("--db", metavar="PATH_OR_URL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _open(db_value: str | None) -> Any:
    from crm_tui.db import Database

    db = Database.open(db_value)
    if db.permission_warning:
        print(f"crm-tui: warning: {db.permission_warning}", file=sys.stderr)
    return db


def cmd_set(args: argparse.Namespace, db_value: str | None) -> int:
    from crm_tui.queries.pipeline import owner_unknown
    from crm_tui.services import Services
    from crm_tui.services.goals import METRIC_WORDS, target_text

    db = _open(db_value)
    try:
        unknown = owner_unknown(db, args.owner.strip()) if args.owner.strip() else None  # before it has a goal
        goal = Services(db).set_goal(
            args.metric, args.period, args.target, owner=args.owner, stage=args.stage, pipeline=args.pipeline
        )
    finally:
        db.close()
    if unknown is not None:  # a rep yet to own anything is allowed; a typo is said
        print(f"crm-tui: warning: {unknown}; the goal is set and counts from their first deal", file=sys.stderr)
    who = goal.owner or "everyone"
    print(
        f"goal #{goal.id}: {who}, {METRIC_WORDS[goal.metric]} per {goal.period}, "
        f"target {target_text(goal.metric, goal.target)}"
    )
    return 0


def cmd_remove(args: argparse.Namespace, db_value: str | None) -> int:
    from crm_tui.services import Services

    db = _open(db_value)
    try:
        goal = Services(db).remove_goal(args.id)
    finally:
        db.close()
    print(f"goal #{goal.id} removed")
    return 0


def cmd_list(args: argparse.Namespace, db_value: str | None) -> int:
    import json

    from crm_tui.metrics.goals import amount_text, bar_text, goal_progress, takes_text
    from crm_tui.report import _safe

    db = _open(db_value)
    try:
        rows = goal_progress(db, owner=args.owner)
    finally:
        db.close()
    if args.format == "json":
        sys.stdout.write(json.dumps({"goals": [r.json_full() for r in rows]}, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not rows:
        print("no goals yet; set one with: crm-tui goal set --metric won_value --period month --target 120000")
        return 0
    for r in rows:
        who = _safe(r.owner) or "everyone"
        print(f"#{r.id:<4} {who:<16} {_safe(bar_text(r))}")
        print(f"      {amount_text(r, r.actual)} of {amount_text(r, r.target)} · {_safe(takes_text(r))}")
        if r.missing:
            print(f"      left out (no exchange rate): {', '.join(sorted(r.missing))}")
    return 0
