"""The timeline on the deal and customer pages: `f` filters it by kind, a logged call shows its
outcome, and ctrl+e with no desktop says so and names the copy key."""

from __future__ import annotations

import pytest
from textual.geometry import Region

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only


def text_of(widget) -> str:
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, *widget.size)))


def timeline_text(app, wid: str) -> str:
    """The timeline box's lines, once the page on top has it ("" before)."""
    found = app.screen.query(wid)
    return text_of(found.first()) if found else ""


@pytest.mark.keys_only  # keys and screens; the timeline's reads run on both engines in tests/unit/test_timeline.py
async def test_f_filters_the_deal_timeline_and_the_customer_page_shows_the_logged_call(
    make_app, settle, until, services, clock, notifications, monkeypatch
):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"):
        monkeypatch.delenv(name, raising=False)
    acme = services.create_customer(name="Acme", email="ann@acme.example")
    deal = services.create_deal("Rollout", customer_id=acme.id, amount="5000")
    clock.advance(minutes=1)
    services.move_deal_step(deal.id, 1)
    clock.advance(minutes=1)
    services.add_note("[red]Budget[/red] approved", deal_id=deal.id)
    clock.advance(minutes=1)
    services.log_activity(kind="call", outcome="left voicemail", deal_id=deal.id)
    app = make_app("pipeline")
    seen = notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_deal(deal.id)
        await until(pilot, lambda: "Lead → Qualified" in timeline_text(app, "#deal-timeline"))
        box = app.screen.query_one("#deal-timeline")
        assert "[red]Budget[/red] approved" in text_of(box) and "Timeline · everything (4)" in text_of(box)
        await pilot.press("f")
        await settle(app, pilot)
        shown = text_of(box)
        assert "activities only (1)" in shown and "left voicemail" in shown and "Budget" not in shown
        await pilot.press("f")
        await settle(app, pilot)
        shown = text_of(box)
        assert "notes only (1)" in shown and "[red]Budget[/red] approved" in shown and "Qualified" not in shown
        assert {i.kind for i in box.items} == {"note"}  # read again for the filter, not only hidden
        await pilot.press("c")  # the deal's customer: its timeline holds the deal's call, outcome and deal
        await until(pilot, lambda: "left voicemail" in timeline_text(app, "#detail-timeline"))
        shown = timeline_text(app, "#detail-timeline")
        assert "● call" in shown and "left voicemail · Rollout" in " ".join(shown.split())
        await pilot.press("ctrl+e")
        await until(pilot, lambda: seen.said("Cannot open a mail app"))
        assert seen.said("no desktop here") and seen.said("y copies the email instead")
