"""`crm-tui import` and `crm-tui export`: argument parsing and the two handlers.

Only the standard library is imported at module level (``crm-tui --help`` stays
fast); the handlers import the database, pandas and openpyxl when they run.
"""

from __future__ import annotations

import sys

KINDS = ("customers", "contacts", "deals", "tasks", "products", "orders", "pipelines", "goals")
FORCE_HELP = (
    "let the {what} replace a file that is a SQLite database (never the open database itself, which is always refused)"
)


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser(
        "import",
        help="import customers, contacts, deals, tasks, products, orders, pipelines or goals from CSV/XLSX",
        description=(
            "Import records from a CSV or XLSX file. Headers of HubSpot, Salesforce, Pipedrive and Zoho "
            "exports (and crm-tui's own export) are recognised; --map names any other column. All good "
            "rows are written in one transaction; rejected rows go to FILE.rejected.csv with the reason."
        ),
    )
    p.add_argument("kind", choices=KINDS, metavar="KIND", help="one of: " + ", ".join(KINDS))
    p.add_argument("file", metavar="FILE", help="a .csv or .xlsx file")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="read COLUMN as FIELD (repeatable); FIELD 'ignore' skips a column",
    )
    p.add_argument("--dry-run", action="store_true", help="check and report, write nothing to the database")
    p.add_argument("--encoding", metavar="ENC", help="text encoding of a CSV (default: UTF-8, else cp1252)")
    p.add_argument("--dayfirst", action="store_true", help="dates are day first (31/12/2024)")
    p.add_argument("--errors", metavar="FILE", help="where to write rejected rows (default FILE.rejected.csv)")
    p.add_argument(
        "--ignore-unmapped",
        action="store_true",
        help="drop columns that match no field instead of keeping them in notes",
    )
    p.add_argument("--force", action="store_true", help=FORCE_HELP.format(what="rejected rows"))
    p.set_defaults(handler=cmd_import)

    p = subparsers.add_parser(
        "export",
        help="export records to CSV, XLSX or JSON",
        description="Export every record of KIND with headers that import reads back.",
    )
    p.add_argument("kind", choices=KINDS, metavar="KIND", help="one of: " + ", ".join(KINDS))
    p.add_argument(
        "--format", choices=("csv", "xlsx", "json"), default=None, help="default: from the -o suffix, else csv"
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write here (created 0600); default, or -: stdout")
    p.add_argument("--force", action="store_true", help=FORCE_HELP.format(what="export"))
    p.set_defaults(handler=cmd_export)


class _StderrProgress:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.active = sys.stderr.isatty()
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.active or total <= 0:
            return
        pct = int(done * 100 / total)
        if pct == self.last:
            return
        self.last = pct
        bar = "#" * (pct // 5) + "-" * (20 - pct // 5)
        sys.stderr.write(f"\r{self.label} [{bar}] {done:,}/{total:,} rows")
        sys.stderr.flush()

    def close(self) -> None:
        if self.active and self.last >= 0:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _dry_run_database(db_value: str | None):
    """The database a dry run checks against, and the temporary folder to remove afterwards.

    A dry run touches nothing on disk: a database file that does not exist yet is not created
    (the run uses an empty one in a temporary folder), and an existing one is not upgraded."""
    import tempfile
    from pathlib import Path

    from crm_tui import engines
    from crm_tui.db import Database, resolve_db, to_url

    path = engines.sqlite_path(to_url(resolve_db(db_value)))
    if path is not None and not path.exists():
        temp = tempfile.TemporaryDirectory(prefix="crm-tui-dry-run-")
        return Database.open(str(Path(temp.name) / "dry-run.sqlite3")), temp
    return Database.open(db_value, upgrade=False), None


def cmd_import(args, db_value: str | None) -> int:
    """Exit status: 0 every row imported, 3 some rows rejected, 2 nothing imported (every row
    rejected, or an empty file), as for any other error."""
    from crm_tui.db import Database
    from crm_tui.io import import_file
    from crm_tui.io.mapping import parse_map_options

    mapping = parse_map_options(args.map)
    temp = None
    if args.dry_run:
        db, temp = _dry_run_database(db_value)
    else:
        db = Database.open(db_value)
    progress = _StderrProgress(f"importing {args.kind}")
    try:
        result = import_file(
            db,
            args.kind,
            args.file,
            mapping=mapping,
            dry_run=args.dry_run,
            encoding=args.encoding,
            dayfirst=args.dayfirst,
            ignore_unmapped=args.ignore_unmapped,
            errors_path=args.errors,
            progress=progress,
            force=args.force,
            write_rejected=not args.dry_run,  # a dry run touches nothing on disk
        )
    finally:
        progress.close()
        db.close()
        if temp is not None:
            temp.cleanup()
    out = sys.stdout
    print(result.summary(), file=out)
    for line in result.detail_lines():
        print(line, file=out)
    if result.unmapped_columns:
        where = "kept in notes" if result.unmapped_into_notes else "not imported"
        cols = ", ".join(repr(c) for c in result.unmapped_columns)
        print(f"columns matching no field ({where}): {cols}; use --map COLUMN=FIELD to import them", file=out)
    if result.rejected:
        for line in result.first_errors:
            print(f"  {line}", file=out)
        if result.errors_path:
            print(f"rejected rows with reasons: {result.errors_path}", file=out)
    if result.dry_run:
        print("dry run: nothing was written to the database", file=out)
    return result.exit_status


def cmd_export(args, db_value: str | None) -> int:
    from crm_tui.db import Database
    from crm_tui.errors import ValidationError
    from crm_tui.io import export_kind

    if args.output == "-":  # the usual name for standard output, never a file called "-"
        args.output = None
    fmt = args.format
    if fmt is None:
        suffix = (args.output or "").rsplit(".", 1)[-1].lower() if args.output and "." in args.output else ""
        fmt = suffix if suffix in ("csv", "xlsx", "json") else "csv"
    if fmt == "xlsx" and not args.output:
        raise ValidationError("xlsx is a binary format; give a file with -o FILE.xlsx")
    db = Database.open(db_value, must_exist=True)
    try:
        n = export_kind(db, args.kind, args.output or sys.stdout, fmt, force=args.force)
    finally:
        db.close()
    if args.output:
        what = f"rows of {args.kind} (one per stage task)" if args.kind == "pipelines" else args.kind
        print(f"exported {n} {what} to {args.output}", file=sys.stderr)
    return 0
