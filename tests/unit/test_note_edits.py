"""Notes edited and deleted (the customer page's ``N``): journaled, undoable, refused when
another session changed the note since, on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_tui.errors import ConflictError, NotFoundError, ValidationError
from crm_tui.models import Note
from crm_tui.queries.customer_detail import customer_detail
from crm_tui.queries.timeline import timeline


def _bodies(db, customer_id: int) -> list[str]:
    return [n.body for n in customer_detail(db, customer_id).notes]


def test_edit_delete_restore_and_undo(services, db, clock):
    acme = services.create_customer(name="Acme").id
    deal = services.create_deal("Rollout", customer_id=acme)
    first = services.add_note("Kick-off", customer_id=acme)
    clock.advance(hours=1)
    second = services.add_note("Quote [v1] sent", deal_id=deal.id)
    assert _bodies(db, acme) == ["Quote [v1] sent", "Kick-off"]
    assert customer_detail(db, acme).notes[0].deal == "Rollout"

    services.update_note(second.id, "Quote [v2] sent\nwith the discount", expected_body="Quote [v1] sent")
    assert _bodies(db, acme)[0] == "Quote [v2] sent\nwith the discount"
    with db.read() as s:
        row = s.get(Note, second.id)
        assert (row.author, row.created_at) == (second.author, second.created_at)  # only the text changes
    assert services.undo().action == "edit note 'Quote [v1] sent'"
    assert _bodies(db, acme)[0] == "Quote [v1] sent"

    services.delete_note(first.id)
    assert _bodies(db, acme) == ["Quote [v1] sent"]
    assert [i.detail for i in timeline(db, customer_id=acme, kinds=("note",))] == ["Quote [v1] sent"]
    services.undo()
    assert _bodies(db, acme) == ["Quote [v1] sent", "Kick-off"]
    services.delete_note(first.id)
    services.restore_note(first.id)
    assert _bodies(db, acme) == ["Quote [v1] sent", "Kick-off"]


def test_bad_edits_change_nothing(services, db):
    acme = services.create_customer(name="Acme").id
    note = services.add_note("Kick-off", customer_id=acme)
    with pytest.raises(ValidationError):
        services.update_note(note.id, "   ")
    with pytest.raises(ConflictError) as refused:  # another session rewrote it since it was opened
        services.update_note(note.id, "Mine", expected_body="What I saw")
    assert refused.value.current == {"note": "Kick-off"}
    services.delete_note(note.id)
    with pytest.raises(NotFoundError):
        services.update_note(note.id, "Too late")
    with db.read() as s:
        assert s.execute(select(Note.body)).scalars().all() == ["Kick-off"]
