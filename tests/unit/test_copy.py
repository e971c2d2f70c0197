"""`crm-tui copy --from SRC --to DST`: whole databases between engines, ids kept,
counts checked, never into a database that already holds data."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from crm_tui import copy as crm_copy
from crm_tui.db import Database
from crm_tui.errors import ValidationError

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 16, 12, 0, tzinfo=UTC)


def _demo_file(path) -> str:
    from crm_tui import demo

    db = Database.open(str(path))
    demo.generate(db, size=40, seed=11, now=NOW)
    db.close()
    return str(path)


def _dump(value: str) -> dict:
    """Every row of every copied table, in id order."""
    db = Database.open(value, upgrade=False)
    out = {}
    with db.read() as session:
        conn = session.connection()
        for table in crm_copy._copy_order():
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key))]
    db.close()
    return out


def _report_json(value: str) -> str:
    from crm_tui.metrics import report
    from crm_tui.report import render

    db = Database.open(value, upgrade=False)
    try:
        return render(report(db, now=NOW), "json")
    finally:
        db.close()


def _run_cli(*argv: str, db: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crm-tui")
    crm_copy.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["copy", *argv])
    return args.handler(args, db)


def test_round_trip_sqlite_postgresql_sqlite_gives_the_same_records_and_report(tmp_path, pg_admin, capsys):
    source = _demo_file(tmp_path / "laptop.sqlite3")
    server = pg_admin.create(empty=True)
    back = str(tmp_path / "back.sqlite3")
    assert _run_cli("--from", source, "--to", server) == 0
    assert "row counts match" in capsys.readouterr().out
    assert _run_cli("--to", back, db=server) == 0  # --from defaults to --db
    original = _dump(source)
    assert sum(len(rows) for rows in original.values()) > 200
    assert _dump(server) == original
    assert _dump(back) == original
    assert _report_json(server) == _report_json(source)
    assert _report_json(back) == _report_json(source)
    pg_admin.drop(server)


def test_after_copying_to_postgresql_new_records_get_fresh_ids(tmp_path, pg_admin):
    from crm_tui.services import Services

    source = _demo_file(tmp_path / "laptop.sqlite3")
    copied = _dump(source)
    server = pg_admin.create(empty=True)
    crm_copy.copy_database(source, server)
    db = Database.open(server)
    services = Services(db, user="ann", clock=lambda: NOW)
    customer = services.create_customer(name="Brand new")  # no duplicate-key error: sequences were reset
    deal = services.create_deal("New deal", customer_id=customer.id, amount="10")
    assert customer.id == max(row[0] for row in copied["customer"]) + 1
    assert deal.id == max(row[0] for row in copied["deal"]) + 1
    db.close()
    pg_admin.drop(server)


def test_copy_between_two_files_keeps_ids_and_is_private(tmp_path):
    import os
    import stat

    source = _demo_file(tmp_path / "a.sqlite3")
    target = tmp_path / "sub" / "b.sqlite3"
    counts = crm_copy.copy_database(source, str(target))
    assert counts["customer"] == 40
    assert _dump(str(target)) == _dump(source)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_copy_refuses_a_target_that_holds_data_and_changes_nothing(tmp_path, any_db):
    from crm_tui.services import Services

    source = _demo_file(tmp_path / "a.sqlite3")
    Services(any_db, user="bob").create_customer(name="Bob's own customer")
    target = any_db.url.render_as_string(hide_password=False)
    before = _dump(target)
    with pytest.raises(ValidationError, match="already holds data; copy only into a new or empty database"):
        crm_copy.copy_database(source, target)
    assert _dump(target) == before


def test_copy_refuses_a_target_whose_stages_were_changed(tmp_path):
    from crm_tui.models import Stage

    source = _demo_file(tmp_path / "a.sqlite3")
    target = Database.open(str(tmp_path / "b.sqlite3"))
    with target.write({"stage"}) as session:
        session.exec(select(Stage).where(Stage.name == "Lead")).scalar_one().name = "Inbound"
    target.close()
    with pytest.raises(ValidationError, match="already holds data"):
        crm_copy.copy_database(source, str(tmp_path / "b.sqlite3"))


def test_missing_source_is_a_clear_error_and_creates_nothing(tmp_path):
    missing = tmp_path / "nope.sqlite3"
    with pytest.raises(ValidationError, match=r"--from .*nope.sqlite3 does not exist"):
        crm_copy.copy_database(str(missing), str(tmp_path / "b.sqlite3"))
    assert not missing.exists()
    assert not (tmp_path / "b.sqlite3").exists()


def test_empty_source_database_has_nothing_to_copy(tmp_path, pg_admin):
    empty = pg_admin.create(empty=True)
    with pytest.raises(ValidationError, match="holds no crm-tui data"):
        crm_copy.copy_database(empty, str(tmp_path / "b.sqlite3"))
    from sqlalchemy import create_engine, inspect

    engine = create_engine(empty)
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []  # the source was not given a schema
    engine.dispose()


def test_same_database_is_refused(tmp_path):
    source = _demo_file(tmp_path / "a.sqlite3")
    with pytest.raises(ValidationError, match="same database"):
        crm_copy.copy_database(source, str(tmp_path / "." / "a.sqlite3"))


def test_copy_parser_is_stdlib_only_and_documents_both_ends():
    parser = argparse.ArgumentParser(prog="crm-tui")
    sub = parser.add_subparsers(dest="command")
    copy_parser = crm_copy.add_parser(sub)
    text = copy_parser.format_help()
    assert "--from SRC" in text and "--to DST" in text
    with pytest.raises(SystemExit):
        parser.parse_args(["copy", "--from", "x"])  # --to is required


def test_every_table_is_copied():
    """Every table but each database's own: its change log, its metadata and the figures it keeps
    (built from the copied rows, and checked equal by the round-trip test)."""
    from crm_tui.models import FIGURE_TABLES

    names = {t.name for t in crm_copy._copy_order()}
    assert names == set(SQLModel.metadata.tables) - {"change_log", "crm_meta", *FIGURE_TABLES}
