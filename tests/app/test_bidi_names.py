"""A right-to-left override in a name does not shift the table's columns (issue 17, finding 9):
bidirectional controls are drawn as visible escapes."""

from __future__ import annotations

import pytest

from crm_tui.tui.literal import safe

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only


def test_bidi_controls_become_visible_escapes():
    assert safe("Evil\u202eroC") == "Evil<U+202E>roC"
    assert safe("a\u2066b\u2069c\u200fd\u061c") == "a<U+2066>b<U+2069>c<U+200F>d<U+061C>"
    assert safe("שלום Industries") == "שלום Industries"  # right-to-left text itself is left alone


async def test_the_customer_list_keeps_its_columns(make_app, settle, services):
    services.create_customer(name="Plain Ltd", email="plain@example.com")
    services.create_customer(name="Evil\u202egnp.exe", email="evil@example.com")
    app = make_app()
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#customers-table")
        lines = [table.render_line(y).text for y in range(table.size.height)]
        plain = next(line for line in lines if "Plain Ltd" in line)
        evil = next(line for line in lines if "Evil" in line)
        assert "\u202e" not in evil and "<U+202E>" in evil
        assert plain.index("plain@example.com") == evil.index("evil@example.com")


async def test_the_task_list_keeps_its_columns(make_app, until, services, clock):
    import datetime as dt

    due = clock.now + dt.timedelta(hours=3)
    services.add_task("Plain call", due_at=due, owner="ann")
    services.add_task("Evil\u202ellac", due_at=due, owner="ann")
    app = make_app("tasks")
    async with app.run_test(size=(120, 24)) as pilot:
        widget = app.screen.query_one("#task-list")

        def lines():
            return [widget.render_line(y).text for y in range(widget.size.height)]

        await until(pilot, lambda: any("Evil" in line for line in lines()), what="the tasks")
        plain = next(line for line in lines() if "Plain call" in line)
        evil = next(line for line in lines() if "Evil" in line)
        assert "\u202e" not in evil and "Evil<U+202E>llac" in evil
        at = due.astimezone().strftime("%H:%M")
        assert plain.index(at) == evil.index(at)  # the due column did not move
