"""Customer list pages (search, filters, sort, keyset paging) and the detail view."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from crm_tui.queries.customer_detail import customer_detail
from crm_tui.queries.customers import (
    CustomerFilter,
    Keyset,
    Sort,
    count_customers,
    customer_position,
    fetch_page,
    filter_choices,
)
from crm_tui.queries.timeline import timeline


@pytest.fixture
def book(services, clock):
    """Five customers with distinct fields, and two deals for Acme."""
    ids = {}
    rows = [
        ("Acme Corp", "sales@acme.example", "+1 555 0100", "Hardware", "vip, hardware", "ann", "customer"),
        ("Beta Labs", "hello@beta.example", "+44 20 7946 0000", "Biotech", "lab", "bob", "lead"),
        ("Gamma GmbH", "info@gamma.example", "+49 30 1234", "Hardware", "vipx", "ann", "prospect"),
        ("delta & sons", "", "555-0199", "Retail", "VIP", "cat", "lead"),
        ("Epsilon", "eps@acme-partners.example", "", "Software", "", "bob", "churned"),
    ]
    for name, email, phone, industry, tags, owner, status in rows:
        clock.advance(minutes=1)
        c = services.create_customer(
            name=name, email=email, phone=phone, industry=industry, tags=tags, owner=owner, status=status
        )
        ids[name] = c.id
    services.create_deal("Big order", customer_id=ids["Acme Corp"], amount="1000.50")
    services.create_deal("Small order", customer_id=ids["Acme Corp"], amount="99.50")
    won = services.create_deal("Closed one", customer_id=ids["Acme Corp"], amount="5000")
    services.win_deal(won.id)
    return ids


def names(rows):
    return [r.name for r in rows]


def test_default_page_sorted_by_name_with_open_value(db, book):
    rows = fetch_page(db)
    assert names(rows) == ["Acme Corp", "Beta Labs", "delta & sons", "Epsilon", "Gamma GmbH"]
    acme = rows[0]
    assert acme.open_value_cents == 110000  # won deal not counted
    assert rows[1].open_value_cents == 0
    assert acme.updated_at.tzinfo is not None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("acme", {"Acme Corp", "Epsilon"}),  # name, and email of Epsilon
        ("GAMMA", {"Gamma GmbH"}),
        ("hello@beta", {"Beta Labs"}),
        ("555", {"Acme Corp", "delta & sons"}),  # phone
        ("biotech", {"Beta Labs"}),  # industry
        ("acmecorp", {"Acme Corp"}),  # matching key ignores spaces
        ("100%", set()),  # % is literal, not a wildcard
        ("zzz", set()),
    ],
)
def test_search_matches_name_email_phone_industry(db, book, text, expected):
    filt = CustomerFilter(text=text)
    assert set(names(fetch_page(db, filt))) == expected
    assert count_customers(db, filt) == len(expected)


def test_filters_status_owner_tag_segment(db, book):
    assert names(fetch_page(db, CustomerFilter(status="lead"))) == ["Beta Labs", "delta & sons"]
    assert names(fetch_page(db, CustomerFilter(owner="bob"))) == ["Beta Labs", "Epsilon"]
    # whole tag, any case: "vipx" is a different tag
    assert names(fetch_page(db, CustomerFilter(tag="vip"))) == ["Acme Corp", "delta & sons"]
    assert names(fetch_page(db, CustomerFilter(tag="hardware"))) == ["Acme Corp"]
    seg = frozenset({book["Gamma GmbH"], book["Epsilon"]})
    assert names(fetch_page(db, CustomerFilter(segment_ids=seg))) == ["Epsilon", "Gamma GmbH"]
    assert fetch_page(db, CustomerFilter(segment_ids=frozenset())) == []
    both = CustomerFilter(text="amm", owner="ann", status="prospect")
    assert names(fetch_page(db, both)) == ["Gamma GmbH"]
    assert count_customers(db, both) == 1


def test_deleted_customers_are_excluded(db, services, book):
    services.delete_customer(book["Beta Labs"])
    assert "Beta Labs" not in names(fetch_page(db))
    assert count_customers(db) == 4
    assert customer_position(db, CustomerFilter(), Sort(), book["Beta Labs"]) is None
    assert customer_detail(db, book["Beta Labs"]) is None


@pytest.mark.parametrize("text", ["acme", "example", "555", 'a"b', "ha", "zzz", "acmecorp", "ACME-partners"])
def test_a_search_counts_exactly_what_it_lists(db, services, book, text):
    """The count of a text search comes from the text index (less deleted matches) on SQLite:
    it must equal the rows the list shows, with deleted customers among the matches."""
    services.delete_customer(book["Epsilon"])  # an "acme" and "example" match
    services.delete_customer(book["Beta Labs"])
    for n in range(3):
        services.create_customer(name=f"Acme Branch {n}", email=f"b{n}@acme.example", phone="555 01")
    filt = CustomerFilter(text=text)
    assert count_customers(db, filt) == len(fetch_page(db, filt, limit=1000))


def test_sort_by_columns_both_ways(db, book):
    assert names(fetch_page(db, sort=Sort("name", descending=True)))[0] == "Gamma GmbH"
    by_owner = fetch_page(db, sort=Sort("owner"))
    assert [r.owner for r in by_owner] == ["ann", "ann", "bob", "bob", "cat"]
    # ties break by id, so equal owners keep creation order
    assert names(by_owner)[:2] == ["Acme Corp", "Gamma GmbH"]
    newest_first = fetch_page(db, sort=Sort("updated", descending=True))
    assert names(newest_first)[0] == "Epsilon"
    with pytest.raises(ValueError):
        Sort("amount; drop table")


@pytest.mark.parametrize("sort", [Sort("name"), Sort("name", True), Sort("owner"), Sort("updated", True)])
def test_keyset_pages_are_contiguous_and_match_offsets(db, services, sort):
    for i in range(57):
        services.create_customer(name=f"Client {i % 13:02d}", owner=f"rep{i % 4}")
    everything = fetch_page(db, sort=sort, limit=1000)
    assert len(everything) == 57
    pages, at = [], 0
    while True:
        page = fetch_page(db, sort=sort, at=at, limit=10)
        if not page:
            break
        pages.extend(page)
        at = page[-1].keyset
    assert [r.id for r in pages] == [r.id for r in everything]  # contiguous, no gap, no repeat
    assert [r.id for r in fetch_page(db, sort=sort, at=20, limit=10)] == [r.id for r in everything[20:30]]
    # stable: the same page read twice is the same rows
    assert fetch_page(db, sort=sort, at=everything[9].keyset, limit=10) == everything[10:20]
    for index in (0, 13, 56):
        assert customer_position(db, CustomerFilter(), sort, everything[index].id) == index


def test_page_query_reads_at_most_limit_customers(db, services):
    """The guard that the list fetches a page, not every row."""
    for i in range(300):
        services.create_customer(name=f"Customer {i:03d}")
    fetched = []

    @event.listens_for(db.engine, "after_cursor_execute")
    def _count(conn, cursor, statement, params, context, executemany):
        if "FROM customer" in statement or "FROM page" in statement:
            fetched.append((statement, cursor.rowcount))

    rows = fetch_page(db, at=Keyset("customer100", 0), limit=25)
    event.remove(db.engine, "after_cursor_execute", _count)
    assert len(rows) == 25 and rows[0].name == "Customer 100"
    assert len(fetched) == 1  # one statement: page + open-value aggregate together
    statement = fetched[0][0]
    assert "LIMIT" in statement and "GROUP BY" in statement


def test_filter_choices_lists_owners_and_split_tags(db, book):
    choices = filter_choices(db)
    assert choices.owners == ["ann", "bob", "cat"]
    # "vip" and "VIP" are one tag; one customer spells it each way, so the tie goes to
    # code-point order — the same on every engine
    assert choices.tags == ["hardware", "lab", "VIP", "vipx"]


def test_filter_choices_spells_a_tag_as_most_customers_do(db, services, book):
    services.create_customer(name="Zeta", tags="vip")
    assert "vip" in filter_choices(db).tags and "VIP" not in filter_choices(db).tags


def test_customer_detail_has_contacts_deals_tasks_orders_notes(db, services, clock, book):
    acme = book["Acme Corp"]
    services.create_contact(acme, name="Jane Roe", title="CTO", email="jane@acme.example")
    clock.advance(hours=1)
    services.add_note("First call went well", customer_id=acme)
    clock.advance(hours=1)
    services.add_note("Sent the quote", customer_id=acme)
    task = services.add_task("Call back", customer_id=acme, due_at=clock.now + dt.timedelta(days=2))
    done = services.add_task("Send brochure", customer_id=acme)
    services.complete_task(done.id)
    product = services.create_product("Widget", "10.00")
    services.create_order(acme, [(product.id, 3)])
    detail = customer_detail(db, acme)
    assert detail.customer["name"] == "Acme Corp" and detail.customer["version"] >= 1
    assert [c.name for c in detail.contacts] == ["Jane Roe"]
    assert {d.title for d in detail.deals} == {"Big order", "Small order", "Closed one"}
    assert detail.deals[-1].outcome == "won"  # open deals first
    notes = timeline(db, customer_id=acme, kinds=["note"])  # the page's notes: on its timeline
    assert [n.detail for n in notes] == ["Sent the quote", "First call went well"]  # newest first
    assert task.id in [t.id for t in detail.open_tasks]
    assert [t.subject for t in detail.done_tasks] == ["Send brochure"]
    assert [(o.status, o.value_cents) for o in detail.orders] == [("draft", 3000)]
