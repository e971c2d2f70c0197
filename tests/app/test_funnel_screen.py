"""The funnel design screen driven with keys: a stage added, reordered and removed (its deals moved where
the rep picked), a stage task added; the board follows, the database holds it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_tui.models import Deal, Stage, StageTaskTemplate
from crm_tui.queries.funnel import funnel_design

pytestmark = pytest.mark.keys_only


def live_stages(db):
    with db.read() as s:
        rows = s.execute(
            select(Stage.name).where(Stage.archived_at.is_(None), Stage.pipeline_id == 1).order_by(Stage.position)
        )
        return list(rows.scalars())


def stage_probability(db, name):
    with db.read() as s:
        return s.execute(select(Stage.probability).where(Stage.name == name)).scalar_one()


def templates(db):
    with db.read() as s:
        return list(s.execute(select(StageTaskTemplate.subject)).scalars())


async def test_stages_are_designed_with_keys_and_the_board_follows(make_app, until, opened, db, services):
    deal = services.create_deal("[b]Rollout[/b]", amount="1000")  # in Lead
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.screen.board is not None, what="the board")
        await pilot.press("S")
        screen = await opened(pilot, "FunnelScreen")
        await until(pilot, lambda: screen.design is not None, what="the design")
        table = screen.query_one("#funnel-stages")
        assert table.row_count == 6 and table.cursor_row == 0  # Lead .. Lost
        # n: a new stage after the highlighted one (Lead)
        await pilot.press("n")
        await opened(pilot, "FormScreen")
        await pilot.press(*"Demo", "tab", "backspace", "backspace", *"30", "ctrl+s")
        await until(pilot, lambda: "Demo" in live_stages(db), what="the new stage")
        assert live_stages(db)[:3] == ["Lead", "Demo", "Qualified"]
        with db.read() as s:
            demo = s.execute(select(Stage).where(Stage.name == "Demo")).scalar_one()
            assert (demo.probability, demo.rot_days) == (30, 14)
        # J moves the highlighted stage (Lead) one later
        await until(pilot, lambda: table.row_count == 7, what="the new row")
        await pilot.press("J")
        await until(pilot, lambda: live_stages(db)[:2] == ["Demo", "Lead"], what="Lead after Demo")
        await until(pilot, lambda: table.cursor_row == 1, what="the cursor following Lead")
        # e: Lead's win probability 10% → 20%
        await pilot.press("e")
        await opened(pilot, "FormScreen")
        await pilot.press("tab", "backspace", "backspace", *"20", "ctrl+s")
        await until(pilot, lambda: stage_probability(db, "Lead") == 20, what="Lead at 20%")
        # t: a stage task for Lead
        await pilot.press("t")
        await opened(pilot, "FormScreen")
        await pilot.press(*"Qualify the lead", "ctrl+s")
        await until(pilot, lambda: "Qualify the lead" in templates(db), what="the stage task")
        # d on Lead, which holds the deal: pick where it goes
        await pilot.press("d")
        picker = await opened(pilot, "PickScreen")
        options = picker.query_one("OptionList")
        assert str(options.get_option_at_index(options.highlighted).prompt).strip("● ") == "Qualified"  # the next one
        await pilot.press("up", "enter")  # Demo
        await until(pilot, lambda: "Lead" not in live_stages(db), what="Lead removed")
        with db.read() as s:
            assert s.get(Stage, s.get(Deal, deal.id).stage_id).name == "Demo"
        # the board shows the new stages
        await pilot.press("escape")
        await until(
            pilot,
            lambda: (
                app.screen.board is not None and [s.name for s in app.screen.board.stages][:2] == ["Demo", "Qualified"]
            ),
            what="the board with Demo first",
        )
        # ctrl+z takes the removal back: the deal is in Lead again, weighted at Lead's new 20%
        await pilot.press("ctrl+z")
        await until(pilot, lambda: live_stages(db)[:2] == ["Demo", "Lead"], what="Lead back")

        def lead_header():
            board = app.screen.board
            lead = next((s for s in board.stages if s.name == "Lead"), None) if board else None
            return board.headers[lead.id] if lead else None

        await until(pilot, lambda: lead_header() is not None and lead_header().count == 1, what="the deal back in Lead")
        assert (lead_header().value_cents, lead_header().weighted_cents) == (100_000, 20_000)


async def test_reports_funnel_names_each_pipeline_with_deals_and_leaves_out_an_empty_one(make_app, until, db, services):
    services.create_deal("Rollout", amount="1000")
    renewals = services.create_pipeline("[b]Renewals[/b]")
    services.create_pipeline("Empty")
    first = next(s for s in funnel_design(db, renewals.id).stages if s.outcome == "open")
    services.create_deal("Seats", amount="500", stage_id=first.id)
    app = make_app("reports")
    async with app.run_test(size=(120, 40)) as pilot:
        funnel = app.screen.query_one("Funnel")
        await until(pilot, lambda: funnel.stages is not None, what="the funnel")
        await pilot.pause()
        text = str(funnel.render())
        assert "Sales\n" in text and "[b]Renewals[/b]\n" in text  # each pipeline's name, literally
        assert "Empty" not in text
