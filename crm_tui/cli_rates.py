"""`crm-tui rates`: the home currency and the exchange rates every total is converted with.

``list``, ``set CODE RATE [--as-of DATE]``, ``remove CODE``, ``import FILE.csv`` and ``home CODE``.
A rate is what one unit of the currency is worth in the home currency; nothing is fetched from a
network. Only the standard library at module level (``crm-tui --help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``crm-tui rates`` on ``subparsers`` (``ArgumentParser.add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rates",
        help="the home currency and exchange rates (list, set, remove, import, home)",
        description=(
            "Every total is shown in the database's home currency (USD unless changed): each deal and order "
            "keeps its own currency and is converted with the rate stored here, what one unit of it is worth "
            "in the home currency (`crm-tui rates set EUR 1.08`: one euro is 1.08 home units). A currency "
            "with no rate is left out of every total, and the totals say so."
        ),
    )
    actions = parser.add_subparsers(dest="rates_action", metavar="ACTION")
    actions.add_parser("list", help="the home currency and every rate")
    p = actions.add_parser("set", help="add or change a rate: one CODE is worth RATE home-currency units")
    p.add_argument("code", metavar="CODE", help="a 3-letter currency code, e.g. EUR")
    p.add_argument("rate", metavar="RATE", help="home-currency units per one CODE, e.g. 1.08")
    p.add_argument("--as-of", metavar="DATE", help="the day the rate is from (YYYY-MM-DD)")
    p = actions.add_parser("remove", help="remove a currency's rate (its amounts are then left out of totals)")
    p.add_argument("code", metavar="CODE")
    p = actions.add_parser(
        "import",
        help="add or change rates from a CSV file: currency,rate[,as_of] (all rows or none)",
    )
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--encoding", default="utf-8-sig", help="the file's text encoding (default UTF-8)")
    p = actions.add_parser(
        "home",
        help="make CODE the home currency (every rate is re-expressed in it; CODE needs a rate first)",
    )
    p.add_argument("code", metavar="CODE")
    parser.set_defaults(handler=handler)
    return parser


def handler(args: argparse.Namespace, db_value: str | None) -> int:
    from crm_tui.db import Database
    from crm_tui.errors import ValidationError
    from crm_tui.services import Services
    from crm_tui.services.currency import read_rates_csv

    action = getattr(args, "rates_action", None) or "list"
    rows = None
    if action == "import":
        try:
            with open(args.file, encoding=args.encoding, newline="") as f:
                text = f.read()
        except FileNotFoundError:
            raise ValidationError(f"no file {args.file!r}; give the path of a CSV of rates") from None
        except (OSError, UnicodeDecodeError, LookupError) as error:
            raise ValidationError(f"cannot read {args.file!r}: {error}") from None
        rows, errors = read_rates_csv(text)
        if errors:
            for message in errors:
                print(f"crm-tui: {args.file}: {message}", file=sys.stderr)
            raise ValidationError(f"{len(errors)} bad row(s) in {args.file}: nothing imported; fix them and run again")
    db = Database.open(db_value)
    if db.permission_warning:
        print(f"crm-tui: warning: {db.permission_warning}", file=sys.stderr)
    try:
        services = Services(db)
        if action == "set":
            row = services.set_rate(args.code, args.rate, as_of=args.as_of)
            home = services.rate_book().home
            print(f"1 {row.currency} = {row.rate} {home}")
        elif action == "remove":
            services.remove_rate(args.code)
            print(f"removed the rate of {args.code.strip().upper()}")
        elif action == "import":
            assert rows is not None
            n = services.import_rates(rows)
            print(f"imported {n} rate(s)")
        elif action == "home":
            code = services.set_home(args.code)
            print(f"the home currency is {code}; every total is now converted to it")
        _print_book(services)
    finally:
        db.close()
    return 0


def _print_book(services: Any) -> None:
    book = services.rate_book()
    print(f"home currency: {book.home}")
    if not book.rates:
        print("no rates yet: amounts in other currencies are left out of totals (crm-tui rates set CODE RATE)")
    for r in book.rates:
        as_of = f"  as of {r.as_of.isoformat()}" if r.as_of else ""
        print(f"  1 {r.currency} = {format(r.rate, 'f')} {book.home}{as_of}")
