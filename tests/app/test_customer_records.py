"""The customer page's records, with real keys: a new deal (``D``) for this very customer when
another shares its name, a contact edited and deleted (``tab``, ``e``, ``d``), a note edited and
deleted (``N``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from textual.geometry import Region

from crm_tui.models import Contact, Deal, Note


async def _open(app, pilot, settle, opened, customer_id: int):
    await settle(app, pilot)
    app.open_customer(customer_id)
    screen = await opened(pilot, "CustomerDetailScreen")
    await settle(app, pilot)
    return screen


@pytest.mark.keys_only  # keys and forms: the same on every engine
async def test_new_deal_goes_to_this_customer_when_another_has_its_name(make_app, settle, opened, until, services, db):
    services.create_customer(name="Twin Co", email="one@twin.example")
    second = services.create_customer(name="Twin Co", email="two@twin.example").id
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, settle, opened, second)
        await pilot.press("D")
        form = await opened(pilot, "DealFormScreen")
        assert form.query_one("#field-customer").value == "Twin Co"
        await pilot.press(*"Rollout", "tab", "tab", *"1200", "ctrl+s")
        await opened(pilot, "CustomerDetailScreen")
        await until(pilot, lambda: screen.detail is not None and len(screen.detail.deals) == 1, what="the new deal")
    with db.read() as s:
        deals = s.execute(select(Deal.title, Deal.customer_id, Deal.amount_cents)).all()
    assert [tuple(d) for d in deals] == [("Rollout", second, 120000)]


@pytest.mark.keys_only
async def test_tab_reaches_the_contacts_e_edits_and_d_deletes_one(make_app, settle, opened, until, services, db):
    acme = services.create_customer(name="Acme").id
    services.create_contact(acme, name="Jane Roe", title="CTO")
    raj = services.create_contact(acme, name="Raj Patel", title="Buyer").id
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, settle, opened, acme)
        await pilot.press("tab", "down")
        assert app.focused is screen.query_one("#detail-contact-table")
        await pilot.press("e")
        form = await opened(pilot, "ContactForm")
        assert form.query_one("#field-name").value == "Raj Patel"
        form.query_one("#field-title").value = "Head of purchasing"
        await pilot.press("ctrl+s")
        await opened(pilot, "CustomerDetailScreen")
        await until(pilot, lambda: screen.detail.contacts[1].title == "Head of purchasing", what="the edit shown")
        await pilot.press("d")
        await opened(pilot, "ConfirmScreen")
        await pilot.press("y")
        await until(pilot, lambda: [c.name for c in screen.detail.contacts] == ["Jane Roe"], what="the delete")
        with db.read() as s:
            row = s.get(Contact, raj)
            assert row.title == "Head of purchasing" and row.deleted_at is not None
        await pilot.press("ctrl+z")  # brings it back
        await until(pilot, lambda: len(screen.detail.contacts) == 2, what="the contact back")


@pytest.mark.keys_only
async def test_n_lists_the_notes_to_edit_and_delete_one(make_app, settle, opened, until, services, db, clock):
    acme = services.create_customer(name="Acme").id
    old = services.add_note("Kick-off call went well", customer_id=acme).id
    clock.advance(hours=1)
    new = services.add_note("Sent the quote [v1]", customer_id=acme).id
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, settle, opened, acme)
        await pilot.press("N")
        await opened(pilot, "NotesPicker")
        await pilot.press("enter")  # the newest first
        form = await opened(pilot, "NoteForm")
        assert form.query_one("#field-note").text == "Sent the quote [v1]"
        form.query_one("#field-note").text = "Sent the quote [v2]"
        await pilot.press("ctrl+s")
        await opened(pilot, "CustomerDetailScreen")
        await until(pilot, lambda: screen.detail.notes[0].body == "Sent the quote [v2]", what="the edited note")
        await pilot.press("N")
        await opened(pilot, "NotesPicker")
        await pilot.press("down", "d")
        await opened(pilot, "ConfirmScreen")
        await pilot.press("y")
        await until(pilot, lambda: [n.id for n in screen.detail.notes] == [new], what="the note deleted")
        timeline = screen.query_one("#detail-timeline")
        lines = [strip.text for strip in timeline.render_lines(Region(0, 0, *timeline.size))]
        assert any("Sent the quote [v2]" in line for line in lines)
        assert not any("Kick-off" in line for line in lines)
    with db.read() as s:
        assert s.get(Note, new).body == "Sent the quote [v2]"
        assert s.get(Note, old).deleted_at is not None
