"""`crm-tui team`: the logins of a team on PostgreSQL and their roles (``crm_tui.team``).

Run as the database's owner with the right to create logins (CREATEROLE). Every command first
(re)applies the team's grants and row-level security. Only the standard library at module
level (``crm-tui --help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

ROLE_NAMES = ("rep", "manager", "viewer")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``crm-tui team`` on ``subparsers`` (``ArgumentParser.add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "team",
        help="the reps' logins and roles on a PostgreSQL server (rep, manager, viewer)",
        description=(
            "Manage a team on PostgreSQL: one login per rep in a role the server enforces. Run as the "
            "database's owner with CREATEROLE."
        ),
    )
    actions = parser.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    p = actions.add_parser("add-rep", help="create a login in a role; prints its password once")
    p.add_argument("name", metavar="NAME", help="the login (lower-case letters, digits, _)")
    p.add_argument("--role", choices=ROLE_NAMES, default="rep", help="rep (default), manager or viewer")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin instead of making one")
    p = actions.add_parser("list", help="the team's logins and their roles")
    p = actions.add_parser("set-role", help="move a login to another role")
    p.add_argument("name", metavar="NAME")
    p.add_argument("role", metavar="ROLE", choices=ROLE_NAMES, help="rep, manager or viewer")
    p = actions.add_parser("policy", help="what reps see of other reps' deals: all (default) or only their own")
    p.add_argument("--reps-see", choices=("all", "own"), required=True, help="all deals, or only their own")
    parser.set_defaults(handler=handler)
    return parser


def handler(args: argparse.Namespace, db_value: str | None) -> int:
    from sqlalchemy import exc as sa_exc

    from crm_tui import team
    from crm_tui.db import Database, describe
    from crm_tui.errors import ValidationError

    password = ""
    if args.team_command == "add-rep":
        team.check_name(args.name)
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if len(password) < 12:
                raise ValidationError("the password must have at least 12 characters; nothing was created")
        else:
            password = team.new_password()
    db = Database.open(db_value)
    try:
        if db.url.get_backend_name() != "postgresql":
            raise ValidationError("teams are for a PostgreSQL server; a SQLite file has one user (its owner)")
        where = describe(db.url)
        try:
            engine: Any = db.engine
            with engine.begin() as conn:  # the server's refusals are read below, not translated
                team.secure(conn)
                if args.team_command == "add-rep":
                    team.add_login(conn, args.name, args.role, password)
                    message = f"added {args.name} as {args.role} on {where}"
                elif args.team_command == "policy":
                    before = team.set_reps_see(conn, args.reps_see)
                    message = f"reps see {args.reps_see} deals (was: {before}) on {where}"
                elif args.team_command == "set-role":
                    old = team.set_role(conn, args.name, args.role)
                    message = f"{args.name}: {old} → {args.role}"
                else:
                    rows = team.members(conn)
                    message = ""
        except sa_exc.ProgrammingError as exc:
            if getattr(getattr(exc, "orig", None), "sqlstate", None) == "42501":
                raise ValidationError(
                    f"{db.url.username or 'this login'} may not manage the team on {where}: run `crm-tui team` as "
                    "the database's owner with the right to create logins (ALTER ROLE … CREATEROLE)"
                ) from None
            raise
    finally:
        db.close()
    if args.team_command == "list":
        if not rows:
            print("no logins in the team yet; add one with `crm-tui team add-rep NAME`", file=sys.stderr)
        for member in rows:
            print(f"{member.login}\t{member.role}" + ("" if member.can_login else "\t(cannot log in)"))
        return 0
    print(message, file=sys.stderr)
    if args.team_command == "add-rep" and not args.password_stdin:
        print(f"password (shown once): {password}")
    return 0
