"""Products (code, retired), pipelines (stages, their task templates, archived ones) and orders
(lines, status, number, customer, deal) round-trip through our own export: back into the same
database as updates (0 created, 0 rejected, nothing changed) and into an empty one as the same
records; on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm_tui.db import Database
from crm_tui.io import export_kind, import_file
from crm_tui.models import Customer, Deal, Order, OrderLine, Pipeline, Product, Stage, StageTaskTemplate
from crm_tui.services import Services

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)
#: an empty database takes them in this order: what a kind refers to comes first
ORDER = ("pipelines", "products", "customers", "deals", "orders")


@pytest.fixture
def empty_db(db, request, tmp_path):
    if db.url.get_backend_name() == "sqlite":
        other = Database.open(str(tmp_path / "empty.sqlite3"))
    else:
        other = Database.open(request.getfixturevalue("pg_admin").create())
    yield other
    other.close()


def book(db) -> None:
    """A second pipeline with a rotting stage, stage tasks (one removed), a removed stage and
    an archived pipeline; products with codes, one retired; orders in every status, with deals."""
    s = Services(db, user="ann", clock=lambda: NOW)
    renewals = s.create_pipeline("Renewals")
    with db.read() as session:
        stages = (
            session.execute(
                select(Stage).where(Stage.pipeline_id == renewals.id, Stage.outcome == "open").order_by(Stage.position)
            )
            .scalars()
            .all()
        )
    review = s.add_stage(renewals.id, "Usage review", probability=40, rot_days=9, after_stage_id=stages[0].id)
    s.add_stage_task(review.id, "Pull usage, seats used vs bought", kind="todo", duration_days=1)
    s.add_stage_task(review.id, "Call the champion", kind="call", responsible="bob", duration_days=3)
    gone = s.add_stage_task(review.id, "Old checklist", kind="email")
    s.remove_stage_task(gone.id)
    spare = s.add_stage(renewals.id, "Spare", probability=5)
    s.remove_stage(spare.id)
    s.archive_pipeline(s.create_pipeline("Old partners").id)
    seat = s.create_product("Seat", "480", code="CRM-SEAT")
    kit = s.create_product("Kit", "99.95")
    old = s.create_product("Legacy box", "10", code="LEG-1")
    acme = s.create_customer(name="Acme").id
    twin = [s.create_customer(name="Twin Co", email=f"t{n}@twin.example").id for n in (1, 2)]
    deal = s.create_deal("Rollout", customer_id=acme, amount="960")
    s.win_deal(deal.id)
    first = s.create_order(acme, [(seat.id, 2), (kit.id, 3, "90.00")], deal_id=deal.id)
    s.approve_order(first.id)
    shipped = s.create_order(twin[1], [(old.id, 1)])
    s.approve_order(shipped.id)
    s.fulfil_order(shipped.id)
    s.cancel_order(s.create_order(twin[0], [(kit.id, 1)]).id)
    s.create_order(twin[1], [(seat.id, 5)])  # a draft
    s.retire_product(old.id)


def records(db) -> dict[str, list[tuple]]:
    """What the three kinds hold, by names (ids differ between databases)."""
    with db.read() as session:
        c = session.connection()
        pipes = c.execute(select(Pipeline.name, Pipeline.position, Pipeline.archived_at).order_by(Pipeline.name)).all()
        stages = c.execute(
            select(
                Pipeline.name,
                Stage.name,
                Stage.position,
                Stage.outcome,
                Stage.probability,
                Stage.rot_days,
                Stage.archived_at,
            )
            .join(Pipeline, Pipeline.id == Stage.pipeline_id)
            .order_by(Pipeline.name, Stage.position, Stage.name)
        ).all()
        t = StageTaskTemplate
        tasks = c.execute(
            select(Stage.name, t.subject, t.kind, t.responsible, t.duration_days, t.position, t.archived_at)
            .join(Stage, Stage.id == t.stage_id)
            .order_by(Stage.name, t.position, t.subject)
        ).all()
        products = c.execute(
            select(
                Product.name, Product.code, Product.unit_price_cents, Product.currency, Product.archived_at
            ).order_by(Product.name)
        ).all()
        orders = c.execute(
            select(
                Order.number,
                Order.status,
                Customer.name,
                Customer.email,
                Deal.title,
                Product.name,
                OrderLine.quantity,
                OrderLine.unit_price_cents,
            )
            .join(Customer, Customer.id == Order.customer_id)
            .outerjoin(Deal, Deal.id == Order.deal_id)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .join(Product, Product.id == OrderLine.product_id)
            .order_by(Order.number, OrderLine.id)
        ).all()
    return {
        k: [tuple(r) for r in v]
        for k, v in {
            "pipelines": pipes,
            "stages": stages,
            "tasks": tasks,
            "products": products,
            "orders": orders,
        }.items()
    }


def test_products_pipelines_and_orders_round_trip(db, empty_db, tmp_path):
    book(db)
    before = records(db)
    assert ("Legacy box", "LEG-1", 1000, "USD", NOW) in before["products"]
    assert ("Old partners", 2, NOW) in before["pipelines"]
    assert any(s[1] == "Spare" and s[6] == NOW for s in before["stages"])
    assert any(t[1] == "Old checklist" and t[6] == NOW for t in before["tasks"])
    files = {kind: tmp_path / f"{kind}.csv" for kind in ORDER}
    for kind in ORDER:
        assert export_kind(db, kind, files[kind], "csv") > 0
    for kind in ORDER:
        r = import_file(db, kind, files[kind], now=NOW)
        assert (r.created, r.rejected, r.also_created) == (0, 0, {}), (kind, r.first_errors, r.also_created)
        assert r.updated > 0 and r.profile == "crm-tui", kind
    assert records(db) == before
    for kind in ORDER:
        r = import_file(empty_db, kind, files[kind], now=NOW)
        assert r.rejected == 0 and r.unmapped_columns == [], (kind, r.first_errors)
    assert records(empty_db) == before
    # the copy's own export imports back into the copy with nothing created
    for kind in ORDER:
        export_kind(empty_db, kind, files[kind], "csv")
        r = import_file(empty_db, kind, files[kind], now=NOW)
        assert (r.created, r.rejected, r.also_created) == (0, 0, {}), (kind, r.first_errors)


def test_a_pipelines_file_edited_in_a_spreadsheet_updates_and_adds(db, tmp_path):
    """Rot days cleared, a probability changed, a stage and a stage task added; one undo takes
    the whole import back."""
    s = Services(db, user="ann", clock=lambda: NOW)
    s.win_deal(s.create_deal("Rollout", customer_id=s.create_customer(name="Acme").id).id)
    path = tmp_path / "pipelines.csv"
    export_kind(db, "pipelines", path, "csv")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    lead = next(i for i, line in enumerate(lines) if line.startswith("Sales,0,,Lead,"))
    assert lines[lead] == "Sales,0,,Lead,0,open,10,14,,,,,,,"
    lines[lead] = "Sales,0,,Lead,0,open,15,,,Qualify within a day,call,,1,,"
    lines.append("Sales,,,Demo,,open,30,7,,Book the demo,meeting,bob,2,,")
    won = next(i for i, line in enumerate(lines) if line.startswith("Sales,0,,Won,"))
    lines[won] = lines[won].replace(",won,", ",open,")  # its deal is won: the stage stays a won one
    lines.append("Sales,,,Demo,,,,,,Send the recording,email,,1,,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = import_file(db, "pipelines", path, now=NOW, user="ann")
    assert (r.created, r.updated, r.rejected, r.also_created) == (0, 1, 0, {"stages": 1, "stage tasks": 3})
    assert r.warnings == {"stages holding deals keep their outcome (open, won or lost)": 1}
    with db.read() as session:
        c = session.connection()
        lead_row = c.execute(select(Stage.probability, Stage.rot_days).where(Stage.name == "Lead")).one()
        demo = c.execute(
            select(Stage.id, Stage.probability, Stage.rot_days, Stage.outcome).where(Stage.name == "Demo")
        ).one()
        subjects = c.execute(
            select(StageTaskTemplate.subject, StageTaskTemplate.responsible)
            .where(StageTaskTemplate.stage_id == demo.id)
            .order_by(StageTaskTemplate.position)
        ).all()
    assert tuple(lead_row) == (15, None)
    assert tuple(demo)[1:] == (30, 7, "open")
    assert [tuple(x) for x in subjects] == [("Book the demo", "bob"), ("Send the recording", "")]
    s.undo()
    with db.read() as session:
        c = session.connection()
        assert c.execute(select(Stage.outcome).where(Stage.name == "Won")).scalar_one() == "won"
        assert tuple(c.execute(select(Stage.probability, Stage.rot_days).where(Stage.name == "Lead")).one()) == (10, 14)
        assert c.execute(select(Stage.id).where(Stage.name == "Demo")).first() is None


def test_bad_pipeline_and_product_rows_are_rejected_with_a_reason(db, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "pipeline,stage,outcome,rot_days,task_subject,task_kind\n"
        ",Lead,open,,,\n"
        "Sales,Lead,maybe,,,\n"
        "Sales,Lead,open,-3,,\n"
        "Sales,,,,Orphan task,call\n"
        "Sales,Lead,open,,Odd task,fax\n",
        encoding="utf-8",
    )
    r = import_file(db, "pipelines", path, now=NOW, write_rejected=False)
    assert r.rejected == 5 and r.created == 0
    assert "pipeline is required" in r.first_errors[0]
    assert "outcome must be one of open, won, lost" in r.first_errors[1]
    assert "rot_days must be a whole number of days" in r.first_errors[2]
    assert "a stage task needs its stage" in r.first_errors[3]
    assert "task_kind must be one of" in r.first_errors[4]
    Services(db, user="ann", clock=lambda: NOW).create_product("Seat", "1", code="CRM-SEAT")
    path.write_text("name,code,unit_price\nKit,crm-seat,5\nBox,B-1,5\nCrate,b-1,5\n", encoding="utf-8")
    r = import_file(db, "products", path, now=NOW, write_rejected=False)
    assert (r.created, r.rejected) == (1, 2)
    assert "the code crm-seat is already 'Seat's" in r.first_errors[0]
    assert "code" in r.first_errors[1]
