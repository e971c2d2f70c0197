"""An import is journaled as one action (issue 13: "every committed change … import"): one entry,
in the merge's transaction, naming who imported what; the records it made, the old → new values
of those it updated and all values of those it removed. Undo takes the whole import back as one
action — exactly its records — or refuses, changing nothing, when one was changed or used since;
redo brings it back."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from crm_tui import journal as jr
from crm_tui.errors import ConflictError
from crm_tui.io import import_file
from crm_tui.models import Customer, Deal, JournalChange, JournalEntry, Note, Order, OrderLine
from crm_tui.queries.history import history
from crm_tui.services import Services

UTC = dt.UTC
#: bookkeeping an undo moves forward (it is a new change): left out of "the same state"
BOOKKEEPING = {"version", "updated_at"}
STATE_TABLES = (
    "customer",
    "contact",
    "pipeline",
    "stage",
    "product",
    "deal",
    "deal_product",
    "stage_change",
    "task",
    "note",
    "sales_order",
    "order_line",
)


def state(db) -> dict[str, list[tuple]]:
    """Every business row of the database (journal and change log aside), bookkeeping aside."""
    from sqlmodel import SQLModel

    out = {}
    with db.read() as s:
        conn = s.connection()
        for table in SQLModel.metadata.sorted_tables:
            if table.name in STATE_TABLES:
                cols = [c for c in table.columns if c.name not in BOOKKEEPING]
                out[table.name] = sorted(conn.execute(select(*cols)).all(), key=repr)
    return out


def entries(db) -> list[JournalEntry]:
    with db.read() as s:
        return list(s.scalars(select(JournalEntry).order_by(JournalEntry.id)))


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def changes(db, entry_id: int) -> list[tuple[str, int, str, dict | None, dict | None]]:
    with db.read() as session:
        return [(c.table, c.record_id, c.op, c.before, c.after) for c in jr.changes_of(session, entry_id)]


def journal_rows(db) -> tuple[int, int]:
    with db.read() as session:
        return (
            session.execute(select(func.count()).select_from(JournalEntry)).scalar(),
            session.execute(select(func.count()).select_from(JournalChange)).scalar(),
        )


def ids(db, model) -> list[int]:
    with db.read() as session:
        return sorted(session.execute(select(model.id)).scalars())


def test_an_import_is_one_entry_with_who_what_and_the_old_and_new_values(db, services, tmp_path):
    old = services.create_customer(name="Old Co", email="old@example.com")
    before = ids(db, Customer)
    source = write(
        tmp_path,
        "leads.csv",
        "name,email,notes\nOld Co,new@example.com,\nAcme,sales@acme.example,met at the fair\n"
        "Globex,g@globex.example,\n",
    )
    result = import_file(db, "customers", source, user="ann")
    assert (result.created, result.updated) == (2, 1)
    *_, entry = entries(db)
    assert len(entries(db)) == 2  # the customer made by hand, then the import: one entry
    assert (entry.kind, entry.who, entry.action) == ("import", "ann", "import 3 customers from leads.csv")
    made = [cid for cid in ids(db, Customer) if cid not in before]
    with db.read() as session:
        note = session.execute(select(Note.id)).scalar_one()
    journaled = changes(db, entry.id)
    assert sorted((t, i) for t, i, op, _, _ in journaled if op == "insert") == sorted(
        [("customer", cid) for cid in made] + [("note", note)]
    )
    (update,) = [c for c in journaled if c[2] == "update"]
    assert update[:2] == ("customer", old.id)
    assert update[3]["email"] == "old@example.com" and update[4]["email"] == "new@example.com"
    assert update[3]["version"] == 1 and update[4]["version"] == 2
    assert "name" not in update[4]  # a field the file gave unchanged is no change


def test_undo_takes_back_exactly_the_import_and_redo_brings_it_back(db, services, tmp_path, clock):
    services.create_customer(name="Account 1", email="a1@example.com")
    kept = services.create_deal("Hand-made", customer_id=ids(db, Customer)[0], amount="10")
    start = state(db)
    source = write(
        tmp_path,
        "deals.csv",
        "external_id,title,account,sales_agent,deal_stage,close_value,product\n"
        "X1,Deal 1,Account 1,Agent 1,Won,100,Widget A\n"
        "X2,Deal 2,Account 2,Agent 2,Brand new stage,250,Widget B\n"
        "X3,Deal 3,Account 2,Agent 2,Lost,0,Widget A\n",
    )
    result = import_file(db, "deals", source, user="ann")
    assert result.created == 3
    imported = state(db)
    assert services.next_undo() == "import 3 deals from deals.csv (also created 1 stage, 1 customer, 2 products)"
    done = services.undo()
    assert done.action.startswith("import 3 deals")
    assert state(db) == start
    assert ids(db, Deal) == [kept.id]
    services.redo()
    assert state(db) == imported
    services.undo()  # and again, from what the redo brought back
    assert state(db) == start


def test_undo_of_a_reimport_gives_updated_records_their_old_values(db, services, tmp_path):
    first = write(tmp_path, "v1.csv", "external_id,title,account,close_value,owner\nD1,Renewal,Old Co,100,ann\n")
    import_file(db, "deals", first, user="ann")
    after_first = state(db)
    second = write(tmp_path, "v2.csv", "external_id,title,account,close_value,owner\nD1,Renewal,New Co,250,bob\n")
    result = import_file(db, "deals", second, user="ann")
    assert result.updated == 1
    with db.read() as session:
        deal = session.execute(select(Deal).where(Deal.external_id == "D1")).scalar_one()
    assert (deal.amount_cents, deal.owner) == (25_000, "bob")
    (update,) = [c for c in changes(db, entries(db)[-1].id) if c[2] == "update"]
    assert update[3]["amount_cents"] == 10_000 and update[4]["amount_cents"] == 25_000
    assert update[3]["owner"] == "ann" and update[4]["owner"] == "bob"
    services.undo()
    assert state(db) == after_first  # New Co gone, the deal back on Old Co at 100.00 for ann


def test_undo_of_an_order_reimport_brings_its_replaced_lines_back(db, services, tmp_path):
    header = "ORDERNUMBER,ORDERLINENUMBER,PRODUCTCODE,QUANTITYORDERED,PRICEEACH,STATUS,CUSTOMERNAME\n"
    import_file(db, "orders", write(tmp_path, "o1.csv", header + "10100,1,S18_1,30,100,Shipped,Diecast\n"))
    lines_before = ids(db, OrderLine)
    after_first = state(db)
    import_file(
        db,
        "orders",
        write(tmp_path, "o2.csv", header + "10100,1,S18_1,40,100,Shipped,Diecast\n10100,2,S18_2,5,20,Shipped,\n"),
        user="ann",
    )
    journaled = changes(db, entries(db)[-1].id)
    (removed,) = [c for c in journaled if c[2] == "delete"]
    assert removed[:2] == ("order_line", lines_before[0]) and removed[3]["quantity"] == 30
    assert not set(ids(db, OrderLine)) & set(lines_before)  # a new line never takes a removed one's id
    services.undo()
    assert state(db) == after_first
    assert ids(db, OrderLine) == lines_before


def test_undo_refuses_when_an_imported_record_was_changed_since(db, services, tmp_path):
    import_file(db, "customers", write(tmp_path, "c.csv", "name\nAcme\nGlobex\n"), user="ann")
    with db.read() as session:
        acme = session.execute(select(Customer).where(Customer.name == "Acme")).scalar_one()
    bob = Services(db, user="bob")
    bob.update_customer(acme.id, phone="555-0100")
    before = state(db)
    with pytest.raises(ConflictError, match=r"customer 'Acme' was changed since \(edit .*, by bob\); nothing was"):
        services.undo()
    assert state(db) == before
    assert not entries(db)[0].undone


def test_an_edit_taken_back_since_does_not_block_the_undo(db, services, tmp_path):
    import_file(db, "customers", write(tmp_path, "c.csv", "name\nAcme\n"), user="ann")
    (acme,) = ids(db, Customer)
    services.update_customer(acme, phone="555-0100")
    services.undo()  # the edit
    services.undo()  # the import
    assert ids(db, Customer) == []


def test_undo_refuses_when_an_imported_record_is_used_since(db, services, tmp_path):
    import_file(db, "customers", write(tmp_path, "c.csv", "name\nAcme\n"), user="ann")
    (acme,) = ids(db, Customer)
    Services(db, user="bob").create_deal("Bob's deal", customer_id=acme, amount="10")
    before = state(db)
    with pytest.raises(ConflictError, match=r"customer 'Acme' is now used by 1 deal record made or changed since"):
        services.undo()
    assert state(db) == before


def test_undo_refuses_when_an_imported_record_was_removed_since(db, services, tmp_path):
    import_file(db, "customers", write(tmp_path, "c.csv", "name\nAcme\nGlobex\n"), user="ann")
    with db.write({"customer"}, journal=False) as session:  # another program, writing no journal
        session.execute(Customer.__table__.delete().where(Customer.__table__.c.name == "Globex"))
    before = state(db)
    with pytest.raises(ConflictError, match=r"customer #\d+ that it made no longer exists"):
        services.undo()
    assert state(db) == before


def test_undo_refuses_when_an_updated_record_was_changed_since(db, services, tmp_path):
    old = services.create_customer(name="Old Co", email="old@example.com")
    import_file(db, "customers", write(tmp_path, "c.csv", "name,email\nOld Co,new@example.com\n"), user="ann")
    Services(db, user="bob").update_customer(old.id, email="bob@example.com")
    with pytest.raises(ConflictError, match=r"customer 'Old Co' was changed since .*email bob@example.com"):
        services.undo()
    with db.read() as session:
        assert session.get(Customer, old.id).email == "bob@example.com"


def test_redo_refuses_when_a_record_like_one_it_brings_back_was_made_since(db, services, tmp_path):
    import_file(db, "deals", write(tmp_path, "d.csv", "external_id,title,account\nD1,Renewal,Acme\n"), user="ann")
    services.undo()
    Services(db, user="bob").create_customer(name="Somebody")  # may take the id an undone record had
    import_file(db, "deals", write(tmp_path, "again.csv", "external_id,title,account\nD1,Other,Acme\n"), user="bob")
    before = state(db)
    with pytest.raises(ConflictError, match="nothing was undone"):
        services.redo()
    assert state(db) == before


def test_nothing_to_journal_writes_no_entry(db, services, tmp_path):
    source = write(tmp_path, "c.csv", "name,email\nAcme,a@acme.example\n")
    import_file(db, "customers", source, dry_run=True, user="ann")
    assert journal_rows(db) == (0, 0)  # a dry run rehearses the journal too, and rolls it back
    import_file(db, "customers", source, user="ann")
    assert journal_rows(db)[0] == 1
    result = import_file(db, "customers", source, user="ann")  # the same file again: no value changes
    assert result.updated == 1 and journal_rows(db)[0] == 1
    bad = write(tmp_path, "bad.csv", "name,email\nNobody,not-an-email\n")
    assert import_file(db, "customers", bad, user="ann").rejected == 1
    assert journal_rows(db)[0] == 1


def test_the_import_is_the_reps_own_action(db, services, tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_TUI_USER", "carol")
    import_file(db, "customers", write(tmp_path, "c.csv", "name\nAcme\n"))
    assert entries(db)[-1].who == "carol"
    assert services.next_undo() is None  # ann did not import it: her ctrl+z leaves it alone
    assert Services(db, user="carol").next_undo() == "import 1 customer from c.csv"


def test_history_of_one_record_lists_the_import_with_only_that_records_change(db, tmp_path):
    rows = "".join(f"Company {i}\n" for i in range(50))
    import_file(db, "customers", write(tmp_path, "c.csv", "name\n" + rows), user="ann")
    with db.read() as session:
        cid = session.execute(select(Customer.id).where(Customer.name == "Company 7")).scalar_one()
    (item,) = history(db, record=("customer", cid))
    assert item.kind == "import" and item.action == "import 50 customers from c.csv"
    assert [(c.table, c.record_id, c.op) for c in item.changes] == [("customer", cid, "insert")]


def test_orders_journal_their_lines_and_undo_restores_the_order(db, services, tmp_path):
    header = "ORDERNUMBER,ORDERLINENUMBER,PRODUCTCODE,QUANTITYORDERED,PRICEEACH,STATUS,CUSTOMERNAME\n"
    source = write(tmp_path, "o.csv", header + "10100,1,S18_1,30,100,Shipped,Online Diecast\n")
    import_file(db, "orders", source, user="ann")
    assert len(ids(db, Order)) == 1
    services.undo()
    assert ids(db, Order) == [] and ids(db, OrderLine) == [] and ids(db, Customer) == []
