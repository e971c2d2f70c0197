"""Funnel and process design: pipelines, stages and stage tasks changed by the rep, with nothing of the
history lost and every change one undo."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm_tui import metrics
from crm_tui.errors import ValidationError
from crm_tui.models import Deal, StageChange, Task
from crm_tui.queries.funnel import funnel_design
from crm_tui.queries.pipeline import list_pipelines, load_board


def names(db, pipeline_id=None):
    design = funnel_design(db, pipeline_id)
    return [s.name for s in design.stages]


def stage_id(db, name, pipeline_id=None):
    return next(s.id for s in funnel_design(db, pipeline_id).stages if s.name == name)


def test_a_new_stage_goes_after_the_chosen_one_and_before_won_and_lost_and_the_board_shows_it(db, services, clock):
    pid = funnel_design(db).pipeline_id
    services.add_stage(pid, "Demo", probability="40", rot_days="10", after_stage_id=stage_id(db, "Qualified"))
    assert names(db) == ["Lead", "Qualified", "Demo", "Proposal", "Negotiation", "Won", "Lost"]
    demo = next(s for s in funnel_design(db).stages if s.name == "Demo")
    assert (demo.probability, demo.rot_days, demo.outcome, demo.deals) == (40, 10, "open", 0)
    services.add_stage(pid, "Contract")  # no place given: after the last open stage
    assert names(db)[-3:] == ["Contract", "Won", "Lost"]
    board = load_board(db, pid, now=clock.now)
    assert [s.name for s in board.stages] == names(db)
    services.undo()
    assert "Contract" not in names(db)


def test_stage_names_probabilities_and_rot_are_checked_before_anything_is_written(db, services):
    pid = funnel_design(db).pipeline_id
    before = funnel_design(db)
    for call, message in (
        (lambda: services.add_stage(pid, "  "), "stage name"),
        (lambda: services.add_stage(pid, "lead"), "already has a stage named 'Lead'"),
        (lambda: services.add_stage(pid, "Demo", probability="140"), "between 0 and 100"),
        (lambda: services.add_stage(pid, "Demo", rot_days="soon"), "rot after"),
        (lambda: services.update_stage(stage_id(db, "Won"), probability=50), "stays 100%"),
        (lambda: services.update_stage(stage_id(db, "Lost"), rot_days=3), "do not rot"),
        (lambda: services.update_stage(stage_id(db, "Lead"), name="Proposal"), "already has a stage"),
        (lambda: services.move_stage(stage_id(db, "Lead"), -1), "already the first"),
        (lambda: services.move_stage(stage_id(db, "Negotiation"), 1), "already the last open"),
        (lambda: services.move_stage(stage_id(db, "Won"), -1), "stay at the end"),
        (lambda: services.remove_stage(stage_id(db, "Won")), "keeps that stage"),
    ):
        with pytest.raises(ValidationError, match=message):
            call()
    assert funnel_design(db) == before


def test_editing_and_reordering_stages_moves_the_board_and_the_weighted_figures(db, services, clock):
    pid = funnel_design(db).pipeline_id
    deal = services.create_deal("Rollout", amount=1000, stage_id=stage_id(db, "Proposal"))
    assert services.update_stage(stage_id(db, "Proposal"), name="Quote", probability="20", rot_days="").rot_days is None
    services.move_stage(stage_id(db, "Quote"), -1)
    assert names(db) == ["Lead", "Quote", "Qualified", "Negotiation", "Won", "Lost"]
    quote = next(s for s in metrics.stage_summaries(db, pid) if s.name == "Quote")
    assert (quote.count, quote.value_cents, quote.weighted_cents) == (1, 100_000, 20_000)  # 20% of 1,000.00
    with db.read() as s:
        assert s.get(Deal, deal.id).stage_id == stage_id(db, "Quote")
    services.undo()
    services.undo()
    assert names(db) == ["Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]


def test_removing_a_stage_that_holds_deals_asks_where_they_go_and_keeps_their_history(db, services, clock):
    pid = funnel_design(db).pipeline_id
    proposal, qualified = stage_id(db, "Proposal"), stage_id(db, "Qualified")
    a = services.create_deal("A", stage_id=proposal)
    b = services.create_deal("B", stage_id=proposal)
    gone = services.create_deal("Deleted", stage_id=proposal)
    services.delete_deal(gone.id)
    with pytest.raises(ValidationError, match="holds 3 deals; say which stage"):
        services.remove_stage(proposal)
    with pytest.raises(ValidationError, match="another open stage"):
        services.remove_stage(proposal, move_deals_to=stage_id(db, "Won"))
    assert services.remove_stage(proposal, move_deals_to=qualified) == 3
    assert names(db) == ["Lead", "Qualified", "Negotiation", "Won", "Lost"]
    with db.read() as s:
        assert {s.get(Deal, d.id).stage_id for d in (a, b, gone)} == {qualified}
        moves = s.execute(select(StageChange).where(StageChange.from_stage_id == proposal)).scalars().all()
    assert sorted(m.deal_id for m in moves) == sorted([a.id, b.id, gone.id])
    assert {s.name: s.deals for s in funnel_design(db).stages}["Qualified"] == 2  # the deleted deal is not counted
    # the removed stage takes no deals, and its name brings it back
    with pytest.raises(ValidationError, match="removed"):
        services.move_deal(a.id, proposal)
    services.add_stage(pid, "Proposal", probability=50)
    assert stage_id(db, "Proposal") == proposal
    services.undo()  # the re-add
    services.undo()  # the removal: the deals are back where they were
    with db.read() as s:
        assert {s.get(Deal, d.id).stage_id for d in (a, b)} == {proposal}


def test_the_only_open_stage_cannot_be_removed(db, services):
    pid = services.create_pipeline("Renewals").id
    with pytest.raises(ValidationError, match="only open stage"):
        services.remove_stage(stage_id(db, "New", pid))


def test_pipelines_are_created_renamed_archived_and_restored(db, services, clock):
    renewals = services.create_pipeline("Renewals")
    assert names(db, renewals.id) == ["New", "Won", "Lost"]
    with pytest.raises(ValidationError, match="already a pipeline named 'Renewals'"):
        services.create_pipeline(" renewals ")
    services.rename_pipeline(renewals.id, "Upsell")
    deal = services.create_deal("Seats", amount=500, stage_id=stage_id(db, "New", renewals.id))
    assert [p.name for p in list_pipelines(db)] == ["Sales", "Upsell"]
    services.archive_pipeline(renewals.id)
    assert [p.name for p in list_pipelines(db)] == ["Sales"]
    design = funnel_design(db, renewals.id)
    assert design.archived_at == clock.now and [p.archived for p in design.pipelines] == [False, True]
    # its deals still count
    assert metrics.report_figures(db, now=clock.now).deals.open_cents == 50_000
    assert deal.id
    with pytest.raises(ValidationError, match="only pipeline in use"):
        services.archive_pipeline(funnel_design(db).pipeline_id)
    services.restore_pipeline(renewals.id)
    assert [p.name for p in list_pipelines(db)] == ["Sales", "Upsell"]


def test_stage_tasks_are_what_a_deal_entering_the_stage_gets(db, services, clock):
    demo = services.add_stage(funnel_design(db).pipeline_id, "Demo", after_stage_id=stage_id(db, "Lead"))
    first = services.add_stage_task(demo.id, "Book the demo", kind="meeting", duration_days="2")
    second = services.add_stage_task(demo.id, "Send the deck", kind="email", responsible="Raj", duration_days=0)
    services.move_stage_task(second.id, -1)
    assert [t.subject for t in next(s for s in funnel_design(db).stages if s.id == demo.id).templates] == [
        "Send the deck", "Book the demo",
    ]  # fmt: skip
    services.update_stage_task(first.id, subject="Run the demo")
    deal = services.create_deal("Rollout", owner="Ann")
    services.move_deal(deal.id, demo.id)
    with db.read() as s:
        tasks = s.execute(select(Task).where(Task.deal_id == deal.id).order_by(Task.id)).scalars().all()
    assert [(t.subject, t.kind, t.owner, t.due_at - clock.now) for t in tasks] == [
        ("Send the deck", "email", "Raj", dt.timedelta(days=0)),
        ("Run the demo", "meeting", "Ann", dt.timedelta(days=2)),
    ]
    services.remove_stage_task(first.id)
    other = services.create_deal("Other")
    services.move_deal(other.id, demo.id)
    with db.read() as s:
        got = s.execute(select(Task.subject).where(Task.deal_id == other.id)).scalars().all()
        kept = s.get(Task, tasks[1].id)
    assert got == ["Send the deck"] and kept.template_id == first.id and kept.deleted_at is None
    with pytest.raises(ValidationError, match="subject"):
        services.add_stage_task(demo.id, "")
    with pytest.raises(ValidationError, match="stage tasks belong to open stages"):
        services.add_stage_task(stage_id(db, "Won"), "Invoice")


def test_an_import_naming_a_removed_stage_is_told_to_bring_it_back_and_creates_nothing(db, services, tmp_path):
    from crm_tui.io import import_file

    services.remove_stage(stage_id(db, "Proposal"))
    path = tmp_path / "deals.csv"
    path.write_text("title,stage,amount\nRollout,Proposal,100\nPilot,Qualified,50\n", encoding="utf-8")
    result = import_file(db, "deals", path)
    assert result.rejected == 1 and "was removed from this pipeline" in result.first_errors[0]
    assert names(db) == ["Lead", "Qualified", "Negotiation", "Won", "Lost"]  # no second "Proposal"
    with db.read() as s:
        assert s.execute(select(Deal.title)).scalars().all() == ["Pilot"]
