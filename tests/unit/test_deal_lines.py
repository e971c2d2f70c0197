"""A deal's product lines set from its page (the amount follows them unless typed by hand), a move
to another pipeline, and a customer name several customers share — on both engines."""

from __future__ import annotations

import pytest
from sqlmodel import select

from crm_tui.errors import ConflictError, ValidationError
from crm_tui.metrics import report_figures
from crm_tui.models import Deal, Stage, StageChange, Task
from crm_tui.queries.pipeline import customer_matches, load_deal, open_stages


@pytest.fixture
def shop(services):
    acme = services.create_customer(name="Acme")
    racks = services.create_product("Racks", "120.50")
    bolts = services.create_product("Bolts", "0.25")
    return acme, racks, bolts


def lines_of(db, deal_id):
    detail = load_deal(db, deal_id)
    return [(x.product, x.quantity, x.unit_price_cents) for x in detail.lines], detail.deal.amount_cents


def demand(db):
    return {d.product: d.demand_cents for d in report_figures(db).market_demand}


def test_lines_replace_the_amount_that_followed_them_in_one_undoable_change(db, services, shop):
    acme, racks, bolts = shop
    deal = services.create_deal("Fit-out", customer_id=acme.id, products=[(racks.id, 2)])
    assert lines_of(db, deal.id) == ([("Racks", 2, 12050)], 24100)
    result = services.set_deal_lines(deal.id, [(racks.id, 3), (bolts.id, 100, "0.20")], expected_version=deal.version)
    assert result.followed and result.changed and result.total_cents == 36150 + 2000
    assert lines_of(db, deal.id) == ([("Racks", 3, 12050), ("Bolts", 100, 20)], 38150)
    assert demand(db) == {"Racks": 36150, "Bolts": 2500}  # M = P × Q at the catalogue price
    assert not load_deal(db, deal.id).amount_by_hand
    assert services.undo().action == "edit deal 'Fit-out' product lines"  # one change, one undo
    assert lines_of(db, deal.id) == ([("Racks", 2, 12050)], 24100)
    assert demand(db) == {"Racks": 24100}


def test_an_amount_typed_by_hand_stays_when_the_lines_change(db, services, shop):
    acme, racks, bolts = shop
    deal = services.create_deal("Fit-out", customer_id=acme.id, products=[(racks.id, 2)])
    deal = services.update_deal(deal.id, amount="30000")
    result = services.set_deal_lines(deal.id, [(racks.id, 1)])
    assert not result.followed and result.total_cents == 12050
    assert lines_of(db, deal.id) == ([("Racks", 1, 12050)], 3000000)
    detail = load_deal(db, deal.id)
    assert detail.amount_by_hand and detail.lines_total == 12050
    # typed back to the lines' total, it follows them again
    services.update_deal(deal.id, amount="120.50")
    assert services.set_deal_lines(deal.id, [(bolts.id, 4)]).followed
    assert lines_of(db, deal.id) == ([("Bolts", 4, 25)], 100)


def test_a_deal_without_lines_takes_the_first_lines_total_and_unchanged_lines_change_nothing(db, services, shop):
    acme, racks, _bolts = shop
    deal = services.create_deal("Rollout", customer_id=acme.id, amount="5000")
    version = services.set_deal_lines(deal.id, []).deal.version  # no lines before, none after: nothing changes
    assert version == deal.version and lines_of(db, deal.id) == ([], 500000)
    services.set_deal_lines(deal.id, [(racks.id, 1, "99.99")])
    assert lines_of(db, deal.id) == ([("Racks", 1, 9999)], 9999)
    services.set_deal_lines(deal.id, [])  # cleared: the amount that followed them follows to nothing
    assert lines_of(db, deal.id) == ([], 0)


def test_set_deal_lines_refuses_a_stale_version_and_bad_lines_leaving_everything(db, services, shop):
    acme, racks, _bolts = shop
    deal = services.create_deal("Fit-out", customer_id=acme.id, products=[(racks.id, 2)])
    services.update_deal(deal.id, owner="bob")
    with pytest.raises(ConflictError):
        services.set_deal_lines(deal.id, [(racks.id, 5)], expected_version=deal.version)
    with pytest.raises(ValidationError, match="quantity"):
        services.set_deal_lines(deal.id, [(racks.id, 0)])
    assert lines_of(db, deal.id) == ([("Racks", 2, 12050)], 24100)


def test_a_deal_moves_to_another_pipeline_with_its_stage_change_tasks_and_undo(db, services, shop):
    acme, _racks, _bolts = shop
    deal = services.create_deal("Fit-out", customer_id=acme.id)
    renewals = services.create_pipeline("Renewals")
    new_stage = services.add_stage(renewals.id, "Quote", probability=40)
    services.add_stage_task(new_stage.id, "Send the quote", duration_days=2)
    assert [n for _i, n in open_stages(db, renewals.id)] == ["New", "Quote"]
    result = services.move_deal_to_pipeline(deal.id, new_stage.id, expected_version=deal.version)
    assert result.to_stage.id == new_stage.id and len(result.created_task_ids) == 1
    with db.read() as s:
        moved = s.get(Deal, deal.id)
        assert (moved.pipeline_id, moved.stage_id) == (renewals.id, new_stage.id)
        change = s.exec(select(StageChange).where(StageChange.id == result.change_id)).one()
        assert change.from_stage_id == deal.stage_id and change.to_stage_id == new_stage.id
        task = s.get(Task, result.created_task_ids[0])
        assert task.subject == "Send the quote" and task.owner == "ann"
    detail = load_deal(db, deal.id)
    assert (detail.pipeline, detail.stage, detail.probability) == ("Renewals", "Quote", 40)
    services.undo()
    with db.read() as s:
        back = s.get(Deal, deal.id)
        assert (back.pipeline_id, back.stage_id) == (deal.pipeline_id, deal.stage_id)


def test_a_pipeline_move_is_refused_for_a_closed_deal_a_stale_one_and_a_stage_of_its_own(db, services, shop):
    acme, _racks, _bolts = shop
    deal = services.create_deal("Fit-out", customer_id=acme.id)
    renewals = services.create_pipeline("Renewals")
    new, won = _stages(db, renewals.id)[:2]
    with pytest.raises(ValidationError, match="H and L"):
        services.move_deal_to_pipeline(deal.id, deal.stage_id)
    with pytest.raises(ValidationError, match="open stage"):
        services.move_deal_to_pipeline(deal.id, won)
    services.update_deal(deal.id, owner="bob")
    with pytest.raises(ConflictError):
        services.move_deal_to_pipeline(deal.id, new, expected_version=deal.version)
    services.win_deal(deal.id)
    with pytest.raises(ValidationError, match="is won; only an open deal moves to another pipeline"):
        services.move_deal_to_pipeline(deal.id, new)


def _stages(db, pipeline_id):
    with db.read() as s:
        return [x.id for x in s.exec(select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position))]


def test_customers_sharing_a_name_are_each_told_apart(db, services):
    first = services.create_customer(name="Acme", email="buy@acme-east.test", owner="ann", industry="Retail")
    services.create_customer(name="ACME", owner="bob")
    services.create_customer(name="Acme Holdings")
    gone = services.create_customer(name="acme")
    services.delete_customer(gone.id)
    matches = customer_matches(db, " acme ")
    assert [m.id for m in matches][0] == first.id and len(matches) == 2
    assert matches[0].label() == "Acme  ·  buy@acme-east.test  ·  owner ann  ·  Retail"
    assert matches[1].label() == "ACME  ·  no email  ·  owner bob  ·  lead"
    assert customer_matches(db, "nobody") == []
