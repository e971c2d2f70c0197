"""Exports of HubSpot, Salesforce (labels and API names), Pipedrive and Zoho import with no --map."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from crm_tui.io import import_file
from crm_tui.models import Contact, Customer, Deal, Note, Pipeline, Product, Stage, Task

DATA = Path(__file__).resolve().parents[1] / "data" / "io"
UTC = dt.UTC
NOW = dt.datetime(2024, 12, 1, 12, 0, tzinfo=UTC)


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def deals(db):
    q = (
        select(
            Deal.external_id,
            Deal.title,
            Customer.name.label("customer"),
            Stage.name.label("stage"),
            Stage.outcome,
            Deal.amount_cents,
            Deal.currency,
            Deal.probability,
            Deal.owner,
            Deal.created_at,
            Deal.closed_at,
            Deal.expected_close,
            Deal.lost_reason,
        )
        .join(Stage, Stage.id == Deal.stage_id)
        .outerjoin(Customer, Customer.id == Deal.customer_id)
        .order_by(Deal.id)
    )
    with db.read() as s:
        rows = s.connection().execute(q).mappings().all()
    return {r["external_id"]: dict(r) for r in rows}


def test_hubspot_deals(db):
    r = import_file(db, "deals", DATA / "hubspot_deals.csv", now=NOW)
    assert (r.created, r.updated, r.rejected) == (3, 0, 0)
    d = deals(db)
    won = d["9001"]
    assert won["title"] == "Acme renewal 2024" and won["customer"] == "Acme Corp"
    assert won["stage"] == "Won" and won["amount_cents"] == 1_250_000 and won["owner"] == "Jane Doe"
    assert won["created_at"] == ts("2024-01-02 09:00") and won["closed_at"] == ts("2024-03-15 10:30")
    open_ = d["9002"]
    assert open_["stage"] == "Appointment Scheduled" and open_["outcome"] == "open"
    assert open_["closed_at"] is None and open_["expected_close"] == day("2024-06-30")
    assert open_["amount_cents"] == 400_000
    lost = d["9003"]
    assert lost["stage"] == "Lost" and lost["lost_reason"] == "Went with competitor"
    assert lost["closed_at"] == ts("2024-04-01 00:00")
    assert "Deal Type" in r.unmapped_columns


def test_salesforce_report_labels(db):
    r = import_file(db, "deals", DATA / "salesforce_report_deals.csv", now=NOW)
    assert (r.created, r.rejected) == (3, 0)
    d = deals(db)
    assert d["0065g00000AbCdE"]["amount_cents"] == 2_500_000
    assert d["0065g00000AbCdE"]["closed_at"] == ts("2024-03-15 00:00")
    assert d["0065g00000AbCdE"]["created_at"] == ts("2024-01-10 00:00")
    g = d["0065g00000AbCdF"]
    assert (g["stage"], g["outcome"], g["amount_cents"], g["probability"]) == (
        "Negotiation/Review",
        "open",
        750_050,
        90,
    )
    assert g["owner"] == "John Roe" and g["customer"] == "Globex" and g["expected_close"] == day("2024-06-30")
    assert d["0065g00000AbCdG"]["outcome"] == "lost" and d["0065g00000AbCdG"]["amount_cents"] == 0
    assert set(r.unmapped_columns) == {"Type", "Lead Source"}


def test_salesforce_api_names(db):
    r = import_file(db, "deals", DATA / "salesforce_api_deals.csv", now=NOW)
    assert (r.created, r.rejected) == (3, 0)
    d = deals(db)
    a = d["0065g00000XyZ01"]
    assert (a["title"], a["customer"], a["currency"], a["amount_cents"]) == (
        "Acme expansion",
        "Acme Corp",
        "EUR",
        1_800_000,
    )
    assert a["created_at"] == ts("2024-01-15 08:30") and a["closed_at"] == ts("2024-05-20 00:00")
    assert d["0065g00000XyZ02"]["stage"] == "Prospecting" and d["0065g00000XyZ02"]["amount_cents"] == 250_075
    assert d["0065g00000XyZ03"]["lost_reason"] == "Price" and d["0065g00000XyZ03"]["outcome"] == "lost"
    assert r.unmapped_columns == []


def test_pipedrive_prefixed_headers_and_status(db):
    r = import_file(db, "deals", DATA / "pipedrive_deals.csv", now=NOW)
    assert (r.created, r.rejected) == (3, 0)
    d = deals(db)
    won = d["101"]
    # status "won" closes the deal although its stage column says where it stood
    assert won["outcome"] == "won" and won["closed_at"] == ts("2024-02-03 11:00")
    assert (won["title"], won["customer"], won["currency"], won["amount_cents"]) == (
        "Acme deal",
        "Acme Corp",
        "EUR",
        150_000,
    )
    assert d["102"]["stage"] == "Qualified" and d["102"]["expected_close"] == day("2024-07-15")
    lost = d["103"]
    assert lost["outcome"] == "lost" and lost["closed_at"] == ts("2024-03-05 17:00")  # from "Lost time"
    assert lost["lost_reason"] == "No budget"
    assert "Person - Name" in r.unmapped_columns
    with db.read() as s:
        pipes = s.connection().execute(select(Pipeline.name).order_by(Pipeline.id)).scalars().all()
    assert pipes == ["Sales", "Pipeline"]


def test_zoho_deals(db):
    r = import_file(db, "deals", DATA / "zoho_deals.csv", now=NOW)
    assert (r.created, r.rejected) == (3, 0)
    d = deals(db)
    z = d["zcrm_4150868000000224001"]
    assert (z["customer"], z["amount_cents"], z["outcome"]) == ("Zylker", 4_500_000, "won")
    assert z["closed_at"] == ts("2024-02-28 00:00") and z["created_at"] == ts("2024-01-20 10:12")
    assert d["zcrm_4150868000000224002"]["probability"] == 30
    assert d["zcrm_4150868000000224002"]["stage"] == "Value Proposition"
    o = d["zcrm_4150868000000224003"]
    assert o["outcome"] == "lost" and o["lost_reason"] == "Competitor cheaper"


def test_customers_from_each_crm(db):
    for name in (
        "hubspot_companies.csv",
        "salesforce_accounts_api.csv",
        "pipedrive_organizations.csv",
        "zoho_accounts.csv",
    ):
        r = import_file(db, "customers", DATA / name, now=NOW)
        assert r.rejected == 0 and r.created >= 1, name
    with db.read() as s:
        rows = (
            s.connection()
            .execute(
                select(
                    Customer.name,
                    Customer.external_id,
                    Customer.website,
                    Customer.industry,
                    Customer.phone,
                    Customer.owner,
                    Customer.status,
                    Customer.tags,
                    Customer.source,
                    Customer.created_at,
                ).order_by(Customer.id)
            )
            .mappings()
            .all()
        )
    by = {r["name"]: r for r in rows}
    assert by["Acme Corp"]["external_id"] == "501" and by["Acme Corp"]["website"] == "acme.example"
    assert by["Acme Corp"]["status"] == "customer" and by["Acme Corp"]["created_at"] == ts("2023-11-02 08:00")
    assert by["Globex"]["status"] == "prospect"  # HubSpot lifecycle "opportunity"
    assert by["Initech"]["phone"] == "(555) 010-2000" and by["Initech"]["source"] == "Web"
    assert by["Initech"]["owner"] == "Jane Doe" and by["Initech"]["industry"] == "Technology"
    assert by["Stark Industries"]["tags"] == "VIP, Hot" and by["Stark Industries"]["external_id"] == "77"
    assert by["Zylker"]["industry"] == "Manufacturing" and by["Zylker"]["owner"] == "Jane Doe"
    with db.read() as s:
        note = (
            s.connection()
            .execute(
                select(Note.body).join(Customer, Customer.id == Note.customer_id).where(Customer.name == "Acme Corp")
            )
            .scalar()
        )
    assert note == "City: Springfield; Number of Employees: 250"  # unmapped columns kept as a note


def test_contacts_tasks_products(db):
    r = import_file(db, "contacts", DATA / "hubspot_contacts.csv", now=NOW)
    assert (r.created, r.rejected) == (2, 0)
    r = import_file(db, "tasks", DATA / "salesforce_tasks.csv", now=NOW)
    assert (r.created, r.rejected) == (2, 0)
    assert r.warnings == {"tasks done with no completion time (counted as done at the import)": 1}
    r = import_file(db, "products", DATA / "zoho_products.csv", now=NOW)
    assert (r.created, r.rejected) == (2, 0)
    with db.read() as s:
        c = s.connection()
        contacts = c.execute(
            select(Contact.name, Contact.title, Contact.email, Customer.name)
            .join(Customer, Customer.id == Contact.customer_id)
            .order_by(Contact.id)
        ).all()
        tasks = c.execute(
            select(
                Task.external_id, Task.subject, Task.kind, Task.due_at, Task.done_at, Task.priority, Task.owner
            ).order_by(Task.id)
        ).all()
        products = c.execute(
            select(Product.external_id, Product.name, Product.unit_price_cents).order_by(Product.id)
        ).all()
    assert [tuple(x) for x in contacts] == [
        ("Ana Costa", "CTO", "ana@zylker.example", "Zylker"),
        ("Li Wei", "Buyer", "li@nova.example", "Nova Labs"),
    ]
    assert tasks[0][:3] == ("00T1", "Call about renewal", "call") and tasks[0][5] == 2
    # completed with no completion time: done when imported (NOW), not on its due date, which
    # would count it as done on time
    assert tasks[0][3] == ts("2024-03-20 00:00") and tasks[0][4] == NOW
    assert tasks[1][2] == "email" and tasks[1][4] is None and tasks[1][6] == "John Roe"
    assert [tuple(p) for p in products] == [("P-100", "Widget Pro", 129_900), ("P-200", "Gadget", 4_950)]
