"""Hostile text from the database is drawn literally on every screen.

The rows are written straight into the tables, as an old import or another
tool could have left them, so the screens cannot rely on the services'
validation: markup must show its brackets and no escape sequence from the data
may reach the terminal.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from crm_tui.models import Customer, Deal, Note, Stage, Task

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only

HOSTILE = {
    "markup": "[red]ACME[/red] [link=https://evil.example]click[/link]",
    "csi": "Evil\x1b[2J\x1b[31mCorp",
    "osc": "Osc\x1b]0;pwned\x07Ltd",
    "cjk": "株式会社テスト🚀",
    "rtl": "שלום Industries",
}


def seed_hostile(db, now):
    with db.write({"customer", "deal", "task", "note"}) as s:
        lead = s.exec(select(Stage).where(Stage.name == "Lead")).one()
        for i, name in enumerate(HOSTILE.values()):
            c = Customer(name=name, name_key=f"hostile{i}", owner="ann", created_at=now, updated_at=now)
            s.add(c)
            s.flush()
            deal = Deal(
                title=name,
                customer_id=c.id,
                pipeline_id=lead.pipeline_id,
                stage_id=lead.id,
                amount_cents=100_00,
                owner="ann",
                created_at=now,
                updated_at=now,
                stage_entered_at=now,
            )
            s.add(deal)
            s.flush()
            s.add(
                Task(
                    subject=name,
                    due_at=now + dt.timedelta(hours=2),
                    owner="ann",
                    deal_id=deal.id,
                    customer_id=c.id,
                    created_at=now,
                    updated_at=now,
                )
            )
            s.add(Note(body=name, customer_id=c.id, author="ann", created_at=now))


async def test_every_screen_shows_hostile_text_literally(make_app, settle, db, clock):
    seed_hostile(db, clock.now)
    app = make_app("customers")
    async with app.run_test(size=(160, 40)) as pilot:
        for key in ("1", "2", "3"):
            await pilot.press(key)
            await settle(app, pilot)
            svg = app.export_screenshot()
            # markup kept as typed (the SVG escapes brackets as text, never as styling)
            assert "[red]ACME[/red]" in svg.replace("&#160;", " "), key
            # no escape character from the data reaches the output
            assert "\x1b" not in svg and "\x07" not in svg, key
            assert "Evil" in svg and "Corp" in svg and "Osc" in svg, key  # shown, with the controls replaced
        await pilot.press("1")
        await settle(app, pilot)
        await pilot.press("enter")  # open the first customer's detail view
        await settle(app, pilot)
        svg = app.export_screenshot()
        assert "\x1b" not in svg
