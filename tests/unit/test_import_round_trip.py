"""Our own export of every kind imports back: into the same database as updates (0 created,
0 rejected, the same report), and into an empty one with the same report; on both engines.
Customers sharing a name keep their own records (the export names each by its id)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from crm_tui.db import Database
from crm_tui.io import export_kind, import_file
from crm_tui.metrics import Filters, report
from crm_tui.models import Contact, Customer
from crm_tui.textnorm import name_key

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)
ORDER = ("products", "customers", "contacts", "deals", "tasks", "orders")


def comparable(rep: dict) -> dict:
    """The report without stage conversion and the learned months ahead: both are learned from the
    stage history, which is not exported (documented); the forecast by category is compared."""
    rep = json.loads(json.dumps(rep))
    for stage in rep["stages"]:
        stage.pop("conversion", None)
    rep["forecast"].pop("months")
    return rep


def seeded(db) -> None:
    """A small demo, plus two customers of the same name with a contact each."""
    from crm_tui import demo, engines

    demo.generate(db, size=25, seed=5, now=NOW)
    with db.write({"customer", "contact"}) as s:
        for table in (Customer.__table__, Contact.__table__):  # the demo writes explicit ids
            engines.reset_id_sequence(s.connection(), table)
        twins = [Customer(name="Twin Co", name_key=name_key("Twin Co"), email=f"t{n}@twin.example") for n in (1, 2)]
        s.add_all(twins)
        s.flush()
        s.add_all([Contact(customer_id=c.id, name=f"Person {n}") for n, c in enumerate(twins, 1)])


def twin_contacts(db) -> list[tuple[str, str]]:
    from sqlalchemy import select

    q = (
        select(Customer.email, Contact.name)
        .join(Contact, Contact.customer_id == Customer.id)
        .where(Customer.name == "Twin Co")
        .order_by(Customer.email)
    )
    with db.read() as s:
        return [tuple(r) for r in s.connection().execute(q)]


@pytest.fixture
def empty_db(db, request, tmp_path):
    """A second, empty database on the engine of ``db``."""
    if db.url.get_backend_name() == "sqlite":
        other = Database.open(str(tmp_path / "empty.sqlite3"))
    else:
        other = Database.open(request.getfixturevalue("pg_admin").create())
    yield other
    other.close()


def test_own_export_round_trips(db, empty_db, tmp_path):
    seeded(db)
    before = report(db, Filters(), now=NOW)
    files = {}
    for kind in ORDER:
        files[kind] = tmp_path / f"{kind}.csv"
        assert export_kind(db, kind, files[kind], "csv") > 0
    for kind in ORDER:
        r = import_file(db, kind, files[kind], now=NOW)
        assert (r.created, r.rejected, r.also_created) == (0, 0, {}), (kind, r.first_errors, r.also_created)
        assert r.updated > 0 and r.profile == "crm-tui", kind
    assert report(db, Filters(), now=NOW) == before
    assert twin_contacts(db) == [("t1@twin.example", "Person 1"), ("t2@twin.example", "Person 2")]
    for kind in ORDER:
        r = import_file(empty_db, kind, files[kind], now=NOW)
        assert r.rejected == 0 and r.updated == 0 and r.unmapped_columns == [], (kind, r.first_errors)
    assert comparable(report(empty_db, Filters(), now=NOW)) == comparable(before)
    assert twin_contacts(empty_db) == [("t1@twin.example", "Person 1"), ("t2@twin.example", "Person 2")]
    # and the copy's own export imports back into the copy as updates
    for kind in ORDER:
        export_kind(empty_db, kind, files[kind], "csv")
        r = import_file(empty_db, kind, files[kind], now=NOW)
        assert (r.created, r.rejected) == (0, 0), (kind, r.first_errors)


def test_an_export_read_as_another_kind_is_refused_and_changes_nothing(db, tmp_path):
    """A deals export imported as customers would match customers by name and overwrite their id,
    status and owner from the deals: each kind's export read as any other kind is refused with
    one message naming what the file is, the database unchanged; with columns named, it is read."""
    from crm_tui.errors import ValidationError
    from crm_tui.io.preview import preview_import

    seeded(db)
    files = {}
    for kind in ORDER:
        files[kind] = tmp_path / f"{kind}.csv"
        export_kind(db, kind, files[kind], "csv")
    before = {kind: export_kind(db, kind, tmp_path / f"before-{kind}.csv", "csv") for kind in ORDER}
    texts = {kind: (tmp_path / f"before-{kind}.csv").read_text(encoding="utf-8") for kind in ORDER}
    for exported in ORDER:
        for asked in ORDER:
            if asked == exported:
                continue
            with pytest.raises(ValidationError, match=f"export of {exported}, not {asked}; nothing was imported"):
                import_file(db, asked, files[exported], now=NOW)
            shown = preview_import(db, asked, files[exported], now=NOW)
            assert shown.result is None and shown.suggested_kind == exported, (exported, asked)
    for kind in ORDER:
        assert export_kind(db, kind, tmp_path / f"after-{kind}.csv", "csv") == before[kind]
        assert (tmp_path / f"after-{kind}.csv").read_text(encoding="utf-8") == texts[kind], kind
    # naming the columns is the rep saying what the file is: read as asked
    r = import_file(db, "customers", files["deals"], mapping={"customer": "name"}, dry_run=True, now=NOW)
    assert r.created + r.updated > 0
    # the columns in another order are still that export
    lines = files["deals"].read_text(encoding="utf-8").splitlines()
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("\n".join(",".join(reversed(line.split(","))) for line in lines[:1]) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="export of deals, not customers"):
        import_file(db, "customers", swapped, now=NOW)


@pytest.mark.parametrize(
    "header",
    ["external_id,name,first_name,last_name,email,phone,title", "customer_external_id,name,email,phone"],
)
def test_a_hand_made_file_in_crm_tui_field_names_is_read_as_asked(db, tmp_path, header):
    """Headers in crm-tui's field names that are not one of its exports' header lines: no refusal,
    whatever kind they look most like."""
    path = tmp_path / "people.csv"
    path.write_text(header + "\n" + ",".join(f"v{i}" if i else "x-1" for i in range(header.count(",") + 1)) + "\n")
    r = import_file(db, "customers", path, dry_run=True, now=NOW)
    assert r.rows == 1


def test_the_headers_an_import_knows_are_the_ones_each_export_writes(db, tmp_path):
    from crm_tui.io.export_queries import HEADERS

    seeded(db)
    for kind in (*ORDER, "pipelines", "goals"):
        path = tmp_path / f"{kind}.csv"
        export_kind(db, kind, path, "csv")
        assert tuple(path.read_text(encoding="utf-8").splitlines()[0].split(",")) == HEADERS[kind], kind


def test_another_databases_export_does_not_update_unrelated_records(db, empty_db, tmp_path):
    """ "crm-c1" in an export of one database is not customer 1 of another (its name differs)."""
    with db.write({"customer"}) as s:
        s.add(Customer(name="Alpha", name_key="alpha"))
    with empty_db.write({"customer"}) as s:
        s.add(Customer(name="Beta", name_key="beta"))
    path = tmp_path / "customers.csv"
    export_kind(db, "customers", path, "csv")
    r = import_file(empty_db, "customers", path, now=NOW)
    assert (r.created, r.updated) == (1, 0)
    from sqlalchemy import select

    with empty_db.read() as s:
        got = s.connection().execute(select(Customer.name, Customer.external_id).order_by(Customer.id)).all()
    assert [tuple(g) for g in got] == [("Beta", None), ("Alpha", "crm-c1")]


def test_an_imported_reference_never_doubles_an_identity_in_a_later_export(db, tmp_path):
    """A database holding "crm-c2" from another database's export, whose own customer 2 has no id:
    the export names that one "crm-c2-2", and the file imports back with nothing created."""
    with db.write({"customer"}) as s:
        s.add(Customer(name="Imported", name_key="imported", external_id="crm-c2"))
        s.add(Customer(name="Ours", name_key="ours"))
    path = tmp_path / "customers.csv"
    export_kind(db, "customers", path, "csv")
    refs = [line.split(",")[0] for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    assert refs == ["crm-c2", "crm-c2-2"]
    r = import_file(db, "customers", path, now=NOW)
    assert (r.created, r.updated, r.rejected) == (0, 2, 0)


def test_a_record_renamed_in_the_exported_file_is_updated(db, tmp_path):
    """A rep exports, renames a customer and a deal's title in a spreadsheet, imports the file back:
    the records are renamed (their created time names them), none is created."""
    from sqlalchemy import select

    from crm_tui.models import Deal

    path = tmp_path / "deals.csv"
    path.write_text("title,customer,stage,amount\nRollout,Acme,Proposal,100\n", encoding="utf-8")
    import_file(db, "deals", path, now=NOW)
    with db.write({"deal"}) as s:  # as if made in the app: no external id of its own
        s.connection().execute(Deal.__table__.update().values(external_id=None))
    for kind, old, new in (("customers", "Acme", "Acme Holdings"), ("deals", "Rollout", "Rollout phase 2")):
        out = tmp_path / f"{kind}-export.csv"
        export_kind(db, kind, out, "csv")
        out.write_text(out.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        r = import_file(db, kind, out, now=NOW)
        assert (r.created, r.updated, r.rejected, r.also_created) == (0, 1, 0, {}), (kind, r.first_errors)
    with db.read() as s:
        got = s.connection().execute(select(Deal.title, Customer.name).join(Customer)).all()
    assert [tuple(g) for g in got] == [("Rollout phase 2", "Acme Holdings")]
