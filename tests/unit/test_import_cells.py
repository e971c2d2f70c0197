"""Real-world cells, rejected rows, dry run, atomicity, matching on re-import, orders grouping."""

from __future__ import annotations

import csv
import datetime as dt
import os

import pytest
from sqlalchemy import func, select

from crm_tui.errors import ValidationError
from crm_tui.io import import_file
from crm_tui.models import Customer, Deal, DealProduct, Note, Order, OrderLine, Product, Stage

UTC = dt.UTC
NOW = dt.datetime(2024, 12, 1, 12, 0, tzinfo=UTC)


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows(db, *cols, order=None, where=None):
    q = select(*cols)
    if where is not None:
        q = q.where(where)
    q = q.order_by(order if order is not None else cols[0])
    with db.read() as s:
        return [tuple(r) for r in s.connection().execute(q)]


def count(db, model):
    with db.read() as s:
        return s.connection().execute(select(func.count()).select_from(model)).scalar()


@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("cp1252", False)])
def test_encodings_detected(db, tmp_path, encoding, bom):
    text = "name,notes\nCafé Zoë,Price €1.200\n"
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)
    path = tmp_path / "c.csv"
    path.write_bytes(data)
    r = import_file(db, "customers", path, now=NOW)
    assert r.created == 1 and r.encoding == ("utf-8" if encoding == "utf-8" else "cp1252")
    assert rows(db, Customer.name) == [("Café Zoë",)]
    assert rows(db, Note.body) == [("Price €1.200",)]


def test_encoding_option_and_bad_encoding(db, tmp_path):
    path = write(tmp_path, "c.csv", "name\nMartín\n", "cp850")
    import_file(db, "customers", path, encoding="cp850", now=NOW)
    assert rows(db, Customer.name) == [("Martín",)]
    with pytest.raises(ValidationError, match="not valid utf-8"):
        import_file(db, "customers", path, encoding="utf-8", now=NOW)
    with pytest.raises(ValidationError, match="unknown encoding"):
        import_file(db, "customers", path, encoding="klingon", now=NOW)


def test_date_formats(db, tmp_path):
    path = write(
        tmp_path,
        "d.csv",
        (
            "external_id,stage,created_at,closed_at\n"
            "a,Won,2017-03-01,2017-04-02\n"
            "b,Won,3/1/2017,4/2/2017\n"
            "c,Won,3/1/2017 9:05,4/2/2017 17:30\n"
            "d,Won,13/25/2017,2017-12-26\n"
        ),
    )
    r = import_file(db, "deals", path, now=NOW, errors_path=tmp_path / "e.csv")
    assert (r.created, r.rejected) == (3, 1)
    got = dict((e, (c, x)) for e, c, x in rows(db, Deal.external_id, Deal.created_at, Deal.closed_at))
    assert got["a"] == got["b"] == (dt.datetime(2017, 3, 1, tzinfo=UTC), dt.datetime(2017, 4, 2, tzinfo=UTC))
    assert got["c"] == (dt.datetime(2017, 3, 1, 9, 5, tzinfo=UTC), dt.datetime(2017, 4, 2, 17, 30, tzinfo=UTC))
    reasons = list(csv.DictReader(open(tmp_path / "e.csv", encoding="utf-8")))
    assert reasons[0]["import_error"].startswith("created_at '13/25/2017' is not a date")
    # nothing in created_at says which comes first: month first, and the summary says so
    assert any("'created_at' could be day or month first: read month first" in n for n in r.notes)


def test_day_first_decided_by_the_column(db, tmp_path):
    """One value no month-first reading allows (25/12) makes the whole column day first."""
    path = write(
        tmp_path,
        "d.csv",
        "external_id,stage,created_at,closed_at\na,Won,3/1/2017,4/2/2017\nb,Won,25/12/2016,4/2/2017\n",
    )
    r = import_file(db, "deals", path, now=NOW)
    assert (r.created, r.rejected) == (2, 0)
    got = dict(rows(db, Deal.external_id, Deal.created_at))
    assert got == {"a": dt.datetime(2017, 1, 3, tzinfo=UTC), "b": dt.datetime(2016, 12, 25, tzinfo=UTC)}
    assert "dates in 'created_at' read day first (D/M/YYYY), as '25/12/2016' shows" in r.notes
    assert any("'closed_at' could be day or month first" in n for n in r.notes)


def test_written_out_dates_through_dateutil(db, tmp_path):
    """Zoho writes "15 Apr, 2021 00:02:00"; others "Tue, 2 Jan 2024 10:00 +0100"; a bare
    number is not a date (dateutil alone would read "5" as the 5th of this month)."""
    path = write(
        tmp_path,
        "d.csv",
        "external_id,stage,created_at,closed_at\n"
        'a,Won,"15 Apr, 2021 00:02:00","Tue, 2 Jan 2024 10:00 +0100"\n'
        "b,Won,5,\n",
    )
    r = import_file(db, "deals", path, now=NOW, errors_path=tmp_path / "e.csv")
    assert (r.created, r.rejected) == (1, 1)
    assert rows(db, Deal.created_at, Deal.closed_at) == [
        (dt.datetime(2021, 4, 15, 0, 2, tzinfo=UTC), dt.datetime(2024, 1, 2, 9, 0, tzinfo=UTC))
    ]


def test_dayfirst(db, tmp_path):
    path = write(tmp_path, "d.csv", "external_id,stage,created_at,closed_at\nx,Won,03/01/2017,25/12/2017 10:00\n")
    r = import_file(db, "deals", path, dayfirst=True, now=NOW)
    assert r.created == 1
    assert rows(db, Deal.created_at, Deal.closed_at) == [
        (dt.datetime(2017, 1, 3, tzinfo=UTC), dt.datetime(2017, 12, 25, 10, tzinfo=UTC))
    ]


def test_amounts(db, tmp_path):
    path = write(
        tmp_path,
        "d.csv",
        ('external_id,amount\na,"$1,234.50"\nb,€99\nc,"1.234,56"\nd,\ne,NA\nf,USD 2 000\ng,-5\nh,12.345\ni,lots\n'),
    )
    r = import_file(db, "deals", path, now=NOW, errors_path=tmp_path / "e.csv")
    assert (r.created, r.rejected) == (6, 3)
    assert rows(db, Deal.external_id, Deal.amount_cents) == [
        ("a", 123450),
        ("b", 9900),
        ("c", 123456),
        ("d", 0),
        ("e", 0),
        ("f", 200000),
    ]
    errors = {row["external_id"]: row["import_error"] for row in csv.DictReader(open(tmp_path / "e.csv"))}
    assert errors["g"] == "amount must be a number ≥ 0, got '-5'"
    assert "more than two decimals" in errors["h"]
    assert "amount such as 1234.50" in errors["i"]


def test_na_is_text_in_text_columns(db, tmp_path):
    path = write(tmp_path, "c.csv", "name,industry,created_at\nNA,NA,NA\n")
    r = import_file(db, "customers", path, now=NOW)
    assert r.created == 1
    assert rows(db, Customer.name, Customer.industry, Customer.created_at) == [("NA", "NA", NOW)]


def test_map_overrides_and_adds(db, tmp_path):
    path = write(tmp_path, "d.csv", "Ref,Kunde,Wert,Name\nR1,Müller GmbH,100,ignored title\n")
    r = import_file(
        db,
        "deals",
        path,
        mapping={"Ref": "external_id", "Kunde": "customer", "Wert": "amount", "Name": "ignore"},
        now=NOW,
    )
    assert r.created == 1 and r.unmapped_columns == []
    assert rows(db, Deal.external_id, Deal.amount_cents, Deal.title) == [("R1", 10000, "Müller GmbH")]
    with pytest.raises(ValidationError, match="have no field 'colour'"):
        import_file(db, "deals", path, mapping={"Ref": "colour"}, now=NOW)
    with pytest.raises(ValidationError, match="no column 'Nope'"):
        import_file(db, "deals", path, mapping={"Nope": "title"}, now=NOW)


def test_unmapped_reported_kept_in_notes_or_ignored(db, tmp_path):
    path = write(tmp_path, "c.csv", "name,Shoe size,Favourite colour\nAcme,42,\n")
    r = import_file(db, "customers", path, now=NOW)
    assert r.unmapped_columns == ["Shoe size", "Favourite colour"] and r.unmapped_into_notes
    assert rows(db, Note.body) == [("Shoe size: 42",)]
    path2 = write(tmp_path, "c2.csv", "name,Shoe size\nGlobex,44\n")
    r = import_file(db, "customers", path2, ignore_unmapped=True, now=NOW)
    assert r.unmapped_columns == ["Shoe size"] and not r.unmapped_into_notes
    assert count(db, Note) == 1


def test_rejected_rows_file(db, tmp_path):
    path = write(tmp_path, "c.csv", "name,email\nGood,a@b.example\n,x@y.example\nBad,not-an-email\n")
    r = import_file(db, "customers", path, now=NOW)
    assert (r.created, r.rejected) == (1, 2)
    out = tmp_path / "c.csv.rejected.csv"
    assert r.errors_path == str(out) and os.stat(out).st_mode & 0o777 == 0o600
    got = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [(g["import_row"], g["name"], g["email"]) for g in got] == [
        ("3", "", "x@y.example"),
        ("4", "Bad", "not-an-email"),
    ]
    assert got[0]["import_error"].startswith("name is required")
    assert got[1]["import_error"] == "email must look like name@example.com, got 'not-an-email'"


def test_dry_run_writes_nothing(db, tmp_path):
    path = write(tmp_path, "d.csv", "external_id,customer,stage,product,amount\nX1,NewCo,Brand New Stage,Thing,5\n")
    before = (count(db, Deal), count(db, Customer), count(db, Stage), count(db, Product))
    r = import_file(db, "deals", path, dry_run=True, now=NOW)
    assert r.dry_run and r.created == 1 and r.also_created == {"stages": 1, "customers": 1, "products": 1}
    assert (count(db, Deal), count(db, Customer), count(db, Stage), count(db, Product)) == before


def test_failure_midway_changes_nothing(db, tmp_path):
    lines = "".join(f"E{i},Customer {i % 50},Won,{i}\n" for i in range(12000))
    path = write(tmp_path, "d.csv", "external_id,customer,stage,amount\n" + lines)
    calls = []

    def progress(done, total):
        calls.append(done)
        if 0 < done < total:
            raise KeyboardInterrupt  # the user pressed ctrl-c after the first chunk was written

    with pytest.raises(KeyboardInterrupt):
        import_file(db, "deals", path, progress=progress, now=NOW)
    assert calls[-1] == 5000
    assert count(db, Deal) == 0 and count(db, Customer) == 0
    r = import_file(db, "deals", path, now=NOW)
    assert r.created == 12000 and count(db, Deal) == 12000


def test_reimport_updates_customers_by_name_or_email(db, tmp_path):
    import_file(
        db, "customers", write(tmp_path, "a.csv", "name,email,phone\nACME Corp.,sales@acme.example,1\n"), now=NOW
    )
    r = import_file(db, "customers", write(tmp_path, "b.csv", "name,phone\nacme corp,2\n"), now=NOW)
    assert (r.created, r.updated) == (0, 1)
    r = import_file(
        db,
        "customers",
        write(tmp_path, "c.csv", "name,email,industry\nAcme Incorporated,SALES@acme.example,Tools\n"),
        now=NOW,
    )
    assert (r.created, r.updated) == (0, 1)
    assert rows(db, Customer.name, Customer.email, Customer.phone, Customer.industry) == [
        ("Acme Incorporated", "SALES@acme.example", "2", "Tools")
    ]


def test_reimport_updates_deals_by_external_id(db, tmp_path):
    path = write(tmp_path, "d.csv", "external_id,title,stage,amount\nD1,First,Lead,100\nD2,Second,Lead,200\n")
    import_file(db, "deals", path, now=NOW)
    path2 = write(tmp_path, "d2.csv", "external_id,title,stage,amount\nD1,,Won,150\n")
    r = import_file(db, "deals", path2, now=NOW)
    assert (r.created, r.updated) == (0, 1)
    assert rows(db, Deal.external_id, Deal.title, Deal.amount_cents, Deal.closed_at) == [
        ("D1", "First", 15000, NOW),
        ("D2", "Second", 20000, None),
    ]


def test_identical_rows_are_two_deals(db, tmp_path):
    path = write(tmp_path, "d.csv", "customer,product,stage,amount\nAcme,GTXPro,Engaging,\nAcme,GTXPro,Engaging,\n")
    r = import_file(db, "deals", path, now=NOW)
    assert r.created == 2 and count(db, Deal) == 2 and count(db, Customer) == 1
    assert rows(db, Deal.title) == [("Acme – GTXPro",), ("Acme – GTXPro",)]


def test_product_lines_and_name_matching(db, tmp_path):
    import_file(db, "products", write(tmp_path, "p.csv", "product,sales_price\nGTX Pro,4821\n"), now=NOW)
    path = write(
        tmp_path,
        "d.csv",
        "external_id,product,stage,amount\nW,GTXPro,Won,5000\nO,GTXPro,Engaging,\nN,Brand New,Engaging,\n",
    )
    import_file(db, "deals", path, now=NOW)
    assert rows(db, Product.name, Product.unit_price_cents) == [("Brand New", 0), ("GTX Pro", 482100)]
    lines = rows(
        db,
        Deal.external_id,
        DealProduct.quantity,
        DealProduct.unit_price_cents,
        order=Deal.id,
        where=DealProduct.deal_id == Deal.id,
    )
    assert lines == [("W", 1, 500000), ("O", 1, 482100), ("N", 1, 0)]


def test_orders_group_lines(db, tmp_path):
    path = write(
        tmp_path,
        "o.csv",
        (
            "ORDERNUMBER,ORDERLINENUMBER,PRODUCTCODE,QUANTITYORDERED,PRICEEACH,SALES,STATUS,ORDERDATE,CUSTOMERNAME\n"
            "10100,2,S18_1,30,100,3000.30,Shipped,1/6/2003 0:00,Online Diecast\n"
            "10100,1,S18_2,50,67.5,3375,Shipped,1/6/2003 0:00,Online Diecast\n"
            "10101,1,S18_1,10,100,1000,Cancelled,1/9/2003 0:00,Blauer See\n"
        ),
    )
    r = import_file(db, "orders", path, now=NOW)
    assert (r.created, r.rejected) == (2, 0)
    assert rows(db, Order.number, Order.status, Order.created_at) == [
        ("10100", "fulfilled", dt.datetime(2003, 1, 6, tzinfo=UTC)),
        ("10101", "cancelled", dt.datetime(2003, 1, 9, tzinfo=UTC)),
    ]
    lines = rows(
        db,
        Order.number,
        Product.name,
        OrderLine.quantity,
        OrderLine.unit_price_cents,
        order=OrderLine.id,
        where=(OrderLine.order_id == Order.id) & (Product.id == OrderLine.product_id),
    )
    assert lines == [("10100", "S18_2", 50, 6750), ("10100", "S18_1", 30, 10001), ("10101", "S18_1", 10, 10000)]
    r = import_file(db, "orders", path, now=NOW)
    assert (r.created, r.updated) == (0, 2) and count(db, OrderLine) == 3


def test_bad_files_are_clear_errors(db, tmp_path):
    with pytest.raises(ValidationError, match="no such file"):
        import_file(db, "deals", tmp_path / "missing.csv")
    with pytest.raises(ValidationError, match="is empty"):
        import_file(db, "deals", write(tmp_path, "e.csv", ""))
    with pytest.raises(ValidationError, match="no column maps to name"):
        import_file(db, "customers", write(tmp_path, "x.csv", "foo,bar\n1,2\n"))
