"""The deal page's new keys and the deal form's pick among namesakes, with keys."""

from __future__ import annotations

import pytest
from sqlmodel import select

from crm_tui.models import Deal


def deals(db):
    with db.read() as s:
        return list(s.exec(select(Deal).order_by(Deal.id)))


@pytest.mark.keys_only
async def test_a_name_two_customers_share_is_picked_then_the_deal_moved_and_deleted(
    make_app, settle, until, opened, db, services
):
    services.create_customer(name="Acme", email="east@acme.test", owner="ann")
    west = services.create_customer(name="Acme", email="west@acme.test", owner="bob")
    services.create_pipeline("Renewals")
    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await opened(pilot, "DealFormScreen")
        await pilot.press(*"Rollout", "enter", *"Acme", "ctrl+s")
        picker = await opened(pilot, "PickScreen")
        assert "west@acme.test" in str(picker.query_one("OptionList").get_option_at_index(1).prompt)
        await pilot.press("down", "enter")
        await until(pilot, lambda: len(deals(db)) == 1, what="the deal saved for the one picked")
        assert deals(db)[0].customer_id == west.id
        await settle(app, pilot)
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "DealDetailScreen", what="the deal page")
        await settle(app, pilot)
        first_pipeline = deals(db)[0].pipeline_id
        await pilot.press("p")
        await opened(pilot, "PickScreen")
        await pilot.press("enter")  # Renewals, the only other pipeline
        await opened(pilot, "PickScreen")
        await pilot.press("enter")  # its first open stage
        await until(pilot, lambda: deals(db)[0].pipeline_id != first_pipeline, what="the move to Renewals")
        await settle(app, pilot)
        services.win_deal(deals(db)[0].id)
        await settle(app, pilot)
        await pilot.press("p")  # a won deal stays where it is, and the page says why
        await until(pilot, lambda: any("only an open deal moves" in n.message for n in app._notifications))
        await pilot.press("d")
        await opened(pilot, "ConfirmScreen")
        await pilot.press("y")
        await until(pilot, lambda: deals(db)[0].deleted_at is not None, what="the delete")
        await settle(app, pilot)
        await pilot.press("ctrl+z")
        await until(pilot, lambda: deals(db)[0].deleted_at is None, what="the delete undone")


@pytest.mark.keys_only
async def test_shift_n_on_the_deal_page_edits_and_deletes_its_notes(make_app, until, opened, db, services):
    from crm_tui.models import Note

    deal = services.create_deal("Rollout")
    note = services.add_note("Wants [b]ten[/b] seats", deal_id=deal.id)

    def body():
        with db.read() as s:
            row = s.get(Note, note.id)
            return None if row.deleted_at else row.body

    app = make_app("pipeline")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.services is not None, what="the database open")
        app.open_deal(deal.id)
        page = await opened(pilot, "DealDetailScreen")
        await until(pilot, lambda: page.detail is not None, what="the deal page")
        await pilot.press("N")
        picker = await opened(pilot, "NotesPicker")
        assert "Wants [b]ten[/b] seats" in str(picker.query_one("OptionList").get_option_at_index(0).prompt)
        await pilot.press("e")
        form = await opened(pilot, "NoteForm")
        form.query_one("TextArea").text = "Wants twelve seats"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: body() == "Wants twelve seats", what="the note edited")
        await pilot.press("N")
        await opened(pilot, "NotesPicker")
        await pilot.press("d")
        confirm = await opened(pilot, "ConfirmScreen")
        await until(pilot, lambda: confirm.answerable, what="the question drawn")
        await pilot.press("y")
        await until(pilot, lambda: body() is None, what="the note deleted")
        await pilot.press("ctrl+z")
        await until(pilot, lambda: body() == "Wants twelve seats", what="the note back")
