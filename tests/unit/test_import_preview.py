"""The import dialog's preview (issue 16): the detected profile, the mapping, the first rows as
the import reads them and the dry run's counts, from the importer's own code, writing nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from crm_tui.io import import_file
from crm_tui.io.preview import IGNORE, PreviewCell, preview_import
from crm_tui.models import ChangeLog, Customer, Deal, JournalEntry, Stage

DATA = Path(__file__).resolve().parents[1] / "data" / "io"
NOW = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)


def counts(db) -> tuple[int, ...]:
    with db.read() as s:
        tables = (Deal, Customer, Stage, ChangeLog, JournalEntry)
        return tuple(s.execute(select(func.count()).select_from(m)).scalar() for m in tables)


def test_preview_of_a_zoho_deals_file_names_profile_mapping_and_parsed_rows_and_writes_nothing(db, tmp_path):
    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "potentials.csv"
    source.write_bytes((DATA / "zoho_crm_deals.csv").read_bytes())
    before = counts(db)
    p = preview_import(db, "deals", source, now=NOW, tz=dt.UTC)
    assert p.profile == "Zoho" and p.profile_line() == "Looks like a Zoho export"
    assert p.columns["owner"] == "Potential Owner" and p.columns["title"] == "Potential Name"
    assert p.columns["customer_external_id"] == "Account Id" and p.columns["close_date"] == "Closing Date"
    assert "currency" not in p.columns and p.unused == ["Lead Source"] and p.into_notes == ["Lead Source"]
    assert p.counts_line() == "Would create 5, update 0, reject 0 of 5 rows; also create 3 stages, 3 customers"
    first = p.rows[0]
    assert first.line == 2 and first.problem == ""
    # "1,250,000.00", "20 Mar, 2024" and "05 Jan, 2024 10:12:00" as the import reads them
    assert first.cells["amount"] == PreviewCell("1,250,000.00")
    assert first.cells["close_date"] == PreviewCell("2024-03-20")
    assert first.cells["created_at"] == PreviewCell("2024-01-05 10:12")
    assert first.cells["probability"] == PreviewCell("100%")
    assert [r.cells["title"].text for r in p.rows][:2] == ["Zylker - Cold storage", "Nimbus - Fleet tracking"]

    # the rep reads created_at from another column: its cells are rejected, each with the reason
    mapping = p.choose("created_at", "Account Name")
    assert mapping == {"Created Time": IGNORE, "Account Name": "created_at"}
    q = preview_import(db, "deals", source, mapping=mapping, now=NOW, tz=dt.UTC)
    assert q.columns["created_at"] == "Account Name" and "Created Time" in q.unused
    cell = q.rows[0].cells["created_at"]
    assert cell.text == "Zylker Foods" and "created_at 'Zylker Foods' is not a date" in cell.problem
    assert "is not a date" in q.rows[0].problem and q.counts_line().startswith("Would create 0, update 0, reject 5")
    # owner not imported: the column is left unused, not read by its name
    r = preview_import(db, "deals", source, mapping=p.choose("owner", None), now=NOW, tz=dt.UTC)
    assert "owner" not in r.columns and "Potential Owner" in r.unused and "owner" not in r.rows[0].cells

    assert counts(db) == before  # no record, change or journal entry
    assert sorted(x.name for x in source.parent.iterdir()) == ["potentials.csv"]  # no rejected-rows file

    # the import with the previewed mapping writes what the preview showed
    done = import_file(db, "deals", source, mapping=r.mapping, now=NOW, user="ann")
    assert (done.created, done.rejected) == (5, 0)
    with db.read() as s:
        assert set(s.execute(select(Deal.owner)).scalars()) == {""}


def test_preview_without_a_needed_column_names_it_and_the_kind_the_file_fits(db, tmp_path):
    p = preview_import(db, "products", DATA / "zoho_crm_deals.csv", now=NOW)
    assert p.result is None and p.rows == []
    assert "no column is read as name" in p.problem and "look like deals" in p.problem
    assert p.suggested_kind == "deals" and p.total_rows == 5
    # choosing the column makes it importable
    q = preview_import(db, "products", DATA / "zoho_crm_deals.csv", mapping=p.choose("name", "Potential Name"), now=NOW)
    assert q.problem == "" and q.result is not None and q.rows[0].cells["name"] == PreviewCell("Zylker - Cold storage")
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(Deal)).scalar() == 0
