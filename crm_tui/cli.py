"""Command-line entry point: argument parsing only, everything else imported lazily.

``crm-tui --help`` must not import textual, SQLModel or pandas; each command
imports what it needs when it runs. A user mistake ends as one line on stderr
(``crm-tui: error: ...``) and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from crm_tui import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from crm_tui.db import Database
    from crm_tui.tui.collector import Collector

DEMO_FILENAME = "demo.sqlite3"


def _add_db(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        default=None if top else argparse.SUPPRESS,
        help="database file or SQLAlchemy URL (default: $CRM_TUI_DB, else crm.sqlite3 in your user data folder)",
    )


def _add_passphrase_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file",
        metavar="PATH",
        help="read the passphrase from the first line of this file instead of asking",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crm-tui",
        description="A keyboard-driven CRM for the terminal. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"crm-tui {__version__}")
    _add_db(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("open", help="open the app (the default)")
    _add_db(p)
    p.set_defaults(handler=cmd_open)

    p = sub.add_parser("demo", help="generate a demo database and open the app on it")
    _add_db(p)
    p.add_argument("--size", type=int, default=2000, metavar="N", help="number of customers (default 2000)")
    p.add_argument("--seed", type=int, default=7, metavar="S", help="random seed (default 7)")
    p.add_argument("--no-open", action="store_true", help="only generate; do not open the app")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("report", help="print the sales report (the same numbers as the Reports screen)")
    _add_db(p)
    p.add_argument("--format", choices=("text", "json", "csv"), default="text")
    p.add_argument("--since", metavar="DATE", help="first close date included (YYYY-MM-DD)")
    p.add_argument("--until", metavar="DATE", help="last close date included (YYYY-MM-DD)")
    p.add_argument("--owner", metavar="NAME", help="only this owner's deals, tasks and orders")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("backup", help="write a consistent copy of the database (safe while the app runs)")
    _add_db(p)
    p.add_argument("file", nargs="?", metavar="FILE", help="where to write it (default: backups/ beside the database)")
    p.add_argument(
        "--encrypt",
        action="store_true",
        help="seal the copy with a passphrase (asked for, or read from stdin or --passphrase-file)",
    )
    _add_passphrase_file(p)
    p.set_defaults(handler=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup (encrypted or not) into a new database file")
    _add_db(p)
    p.add_argument("file", metavar="FILE", help="the backup to restore")
    p.add_argument("--to", metavar="PATH", help="the new database file (default: --db, $CRM_TUI_DB or the default)")
    _add_passphrase_file(p)
    p.set_defaults(handler=cmd_restore)

    from crm_tui import cli_agenda, cli_forecast, cli_goals, cli_history, cli_io, cli_rates, cli_team, doctor
    from crm_tui import copy as copy_cmd

    before = set(sub.choices)
    cli_io.add_parsers(sub)
    copy_cmd.add_parser(sub)
    doctor.add_parser(sub)
    cli_history.add_parser(sub)
    cli_agenda.add_parser(sub)
    cli_forecast.add_parser(sub)
    cli_rates.add_parser(sub)
    cli_team.add_parser(sub)
    cli_goals.add_parser(sub)
    for name in set(sub.choices) - before:
        _add_db(sub.choices[name])
    return parser


def main(argv: list[str] | None = None) -> int:
    _ensure_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", cmd_open)
    try:
        code = int(handler(args, args.db) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("crm-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`crm-tui report | head -1`): what it wanted it has; stop quietly.
        # stdout is pointed at /dev/null so the interpreter's own flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # only user-facing errors are turned into one line
        from crm_tui.errors import CrmError

        if isinstance(exc, CrmError):
            print(f"crm-tui: error: {exc.message}", file=sys.stderr)
            return 2
        raise


def _ensure_streams() -> None:
    """A command started with stdout or stderr closed (`crm-tui report >&-`) writes into
    /dev/null instead of failing with a traceback. A stream with no file descriptor of its own
    (a program capturing the output in memory) is left as it is."""
    import io

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None:
            try:
                os.fstat(stream.fileno())
                continue
            except io.UnsupportedOperation:
                continue  # in memory: it works, it just has no descriptor
            except (OSError, ValueError):
                pass  # a descriptor that is closed
        setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process


# -- commands ----------------------------------------------------------------------


def open_db(db_value: str | None, *, must_exist: bool = False) -> Database:
    """Open the database for a command, warning once if others can read it."""
    from crm_tui.db import Database

    db = Database.open(db_value, must_exist=must_exist)
    if db.permission_warning:
        print(f"crm-tui: warning: {db.permission_warning}", file=sys.stderr)
    return db


def cmd_open(args: argparse.Namespace, db_value: str | None) -> int:
    return _run_tui(db_value)


#: Textual repaints at most TEXTUAL_FPS times a second (its default 60), on a fixed grid: a change
#: that lands just after a frame waits for the next grid point, so at 240 a search result or a
#: moved card shows sooner (benchmarks/RESULTS.md). Frames are still only drawn when something
#: changed. A TEXTUAL_FPS the user set wins.
FRAME_RATE = "240"


def interactive_settings() -> Collector:
    """What a rep's interactive session sets in the process before the app is imported: the frame
    rate (Textual reads it once, at import) and the garbage collector's keystroke-friendly
    settings (``crm_tui.tui.collector``). The benchmarks call this too."""
    os.environ.setdefault("TEXTUAL_FPS", FRAME_RATE)
    from crm_tui.tui.collector import COLLECTOR

    return COLLECTOR


def _run_tui(db_value: str | None, *, user: str | None = None) -> int:
    memory = interactive_settings()
    from crm_tui.tui.app import create_app

    app = create_app(db=db_value, memory=memory, user=user)
    code = app.run()
    if app.startup_error:
        print(f"crm-tui: error: {app.startup_error}", file=sys.stderr)
        return 2
    return int(code or 0)


def cmd_demo(args: argparse.Namespace, db_value: str | None) -> int:
    from crm_tui.errors import ValidationError

    if not 1 <= args.size <= 1_000_000:
        raise ValidationError(f"--size must be between 1 and 1,000,000, got {args.size}")
    target = db_value or os.environ.get("CRM_TUI_DEMO_DB") or str(_demo_path())
    db = _prepare_demo(target, args.size, args.seed, explicit=db_value is not None)
    db.close()
    if args.no_open:
        return 0
    from crm_tui.config import USER_ENV
    from crm_tui.demo_words import DEMO_REP

    # the demo opens as its busiest rep, whose day is full, unless $CRM_TUI_USER names another
    return _run_tui(target, user=os.environ.get(USER_ENV) or DEMO_REP)


def _demo_path() -> Path:
    from crm_tui.db import default_db_path

    return default_db_path().with_name(DEMO_FILENAME)


def _prepare_demo(target: str, size: int, seed: int, *, explicit: bool) -> Database:
    """Open the demo database, generating it unless it already holds this size and seed."""
    from pathlib import Path

    from sqlalchemy import func, select

    from crm_tui import demo
    from crm_tui.columns import pk
    from crm_tui.db import Database, to_url
    from crm_tui.errors import ValidationError
    from crm_tui.models import Customer, Meta

    wanted = f"size={size} seed={seed}"
    db = Database.open(target)
    with db.read() as session:
        marker = session.get(Meta, "demo")
        customers = session.execute(select(func.count(pk(Customer.id)))).scalar()
    if marker is not None and marker.value == wanted:
        print(f"Demo database ready: {target}", file=sys.stderr)
        return db
    if customers:
        if explicit or marker is None:
            raise ValidationError(
                f"{target} already holds data, and the demo never writes over real data; give --db a new file name"
            )
        # our own earlier demo with other parameters: start it afresh
        url = to_url(target)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            # only a demo file is ours to delete; a server database's name is not a local path
            raise ValidationError(
                f"{url.render_as_string(hide_password=True)} holds a demo made with {marker.value}; "
                "run the demo with those options, "
                "or give it an empty database"
            )
        db.close()
        path = Path(url.database)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db = Database.open(target)
    tty = sys.stderr.isatty()

    def progress(phase: str, done: int, total: int) -> None:
        if tty:
            print(f"\rGenerating demo data: {phase} {done:,}/{total:,}   ", end="", file=sys.stderr, flush=True)

    counts = demo.generate(db, size=size, seed=seed, progress=progress)
    with db.write({"crm_meta"}) as session:
        session.merge(Meta(key="demo", value=wanted))
    if tty:
        print(file=sys.stderr)
    summary = ", ".join(f"{n:,} {t}" for t, n in counts.items() if n)
    print(f"Demo database ready: {target} ({summary})", file=sys.stderr)
    return db


def cmd_report(args: argparse.Namespace, db_value: str | None) -> int:
    from crm_tui import validate
    from crm_tui.errors import ValidationError
    from crm_tui.metrics import Filters, report
    from crm_tui.report import render

    since = validate.date(args.since, "--since")
    until = validate.date(args.until, "--until")
    if since and until and since > until:
        raise ValidationError(f"--since {since} is after --until {until}; swap them")
    owner = validate.text(args.owner, "--owner") or None
    db = open_db(db_value, must_exist=True)
    try:
        if owner is not None:
            from crm_tui.queries.pipeline import owner_unknown

            unknown = owner_unknown(db, owner)
            if unknown is not None:  # a typo would read as a rep with nothing: said, report still printed
                print(f"crm-tui: warning: {unknown}; the report counts no deals, tasks or orders", file=sys.stderr)
        data = report(db, Filters(since=since, until=until, owner=owner))
    finally:
        db.close()
    text = render(data, args.format, owner=owner)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_backup(args: argparse.Namespace, db_value: str | None) -> int:
    import datetime as dt
    from pathlib import Path

    from crm_tui import engines, safety
    from crm_tui.errors import ValidationError

    db = open_db(db_value, must_exist=True)
    try:
        source = db.path
        if source is None:
            raise ValidationError("backup copies SQLite files; for a server database use `crm-tui copy` or pg_dump")
        if args.passphrase_file and not args.encrypt:
            raise ValidationError("--passphrase-file is for --encrypt; add --encrypt or leave it out")
        if args.file:
            dest = Path(args.file).expanduser()
        else:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            suffix = ".sqlite3.enc" if args.encrypt else ".sqlite3"
            dest = source.parent / "backups" / f"{source.stem}-{stamp}{suffix}"
        # a backup never replaces any file (below), and never the database or its side files
        safety.check_output(dest, database=source, what="backup", sqlite_ok=True)
        if dest.exists():
            raise ValidationError(f"{dest} already exists; choose a new file name")
        try:
            if args.encrypt:
                _encrypted_backup(source, dest, _passphrase(args.passphrase_file, confirm=True))
            else:
                engines.backup_sqlite(source, dest)
        except OSError as exc:
            raise ValidationError(
                f"cannot write the backup {dest}: {exc.strerror or exc}; choose another path"
            ) from None
    finally:
        db.close()
    print(dest)
    return 0


def _passphrase(path: str | None, *, confirm: bool) -> str:
    """The passphrase: the first line of ``path``, else one line of stdin when it is not a
    terminal, else asked for (twice when ``confirm``)."""
    import getpass
    from pathlib import Path

    from crm_tui import backup_crypto
    from crm_tui.errors import ValidationError

    if path:
        try:
            lines = Path(path).expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValidationError(f"cannot read the passphrase file {path}: {detail}") from None
        phrase = lines[0] if lines else ""
    elif not sys.stdin.isatty():
        phrase = sys.stdin.readline().rstrip("\r\n")
    else:
        phrase = getpass.getpass("Passphrase: ")
        if confirm and getpass.getpass("Passphrase again: ") != phrase:
            raise ValidationError("the two passphrases differ; nothing was written")
    if not phrase:
        raise ValidationError("no passphrase given; nothing was written")
    if confirm:
        backup_crypto.check_passphrase(phrase)
    return phrase


def _encrypted_backup(source: Path, dest: Path, passphrase: str) -> None:
    """A consistent copy of ``source`` sealed into ``dest``: the plain copy is made beside it
    under a name ``clean_partials`` removes if this process is killed, and deleted at once."""
    from crm_tui import backup_crypto, engines

    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pid = os.getpid()
    plain = dest.with_name(f".{dest.name}.plain.{pid}.partial")
    sealed = dest.with_name(f".{dest.name}.{pid}.partial")
    try:
        engines.backup_sqlite(source, plain)
        backup_crypto.encrypt_file(plain, sealed, passphrase)
        os.replace(sealed, dest)
    finally:
        plain.unlink(missing_ok=True)
        sealed.unlink(missing_ok=True)


def cmd_restore(args: argparse.Namespace, db_value: str | None) -> int:
    import sqlite3
    from pathlib import Path

    from crm_tui import backup_crypto, engines, safety
    from crm_tui.db import resolve_db, to_url
    from crm_tui.errors import ValidationError

    source = Path(args.file).expanduser()
    if not source.is_file():
        raise ValidationError(f"{source} is not a file; give the backup to restore")
    url = to_url(args.to or resolve_db(db_value))
    target = engines.sqlite_path(url)
    if target is None:
        raise ValidationError("restore writes a SQLite file; give --to a file path (for a server use `crm-tui copy`)")
    if safety.database_files(target):
        raise ValidationError(f"{target} already exists; restore never overwrites a database: give --to a new file")
    encrypted = backup_crypto.is_encrypted(source)
    if args.passphrase_file and not encrypted:
        raise ValidationError(f"{source} is not encrypted; leave out --passphrase-file")
    if not target.parent.exists():
        target.parent.mkdir(parents=True, mode=0o700)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        if encrypted:
            backup_crypto.decrypt_file(source, partial, _passphrase(args.passphrase_file, confirm=False))
        else:
            engines.backup_sqlite(source, partial)
        check = sqlite3.connect(f"file:{partial}?mode=ro", uri=True)
        try:
            check.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            check.close()
        os.replace(partial, target)
    except sqlite3.DatabaseError:
        raise ValidationError(f"{source} is not a crm-tui backup (no database inside); nothing was restored") from None
    except OSError as exc:
        raise ValidationError(f"cannot restore to {target}: {exc.strerror or exc}; choose another --to") from None
    finally:
        partial.unlink(missing_ok=True)
    print(target)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
