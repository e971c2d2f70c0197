"""While the app runs, the rep's task coming due is announced once, a few minutes ahead (and rings
the terminal bell when the rep turned that on); a frozen clock is advanced by hand."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from crm_tui.services import Services

# Keys and screens: the same on every engine (the services below them are tested on both).
pytestmark = pytest.mark.keys_only


@pytest.mark.keys_only
async def test_a_task_falling_due_is_announced_once_and_again_after_a_snooze(
    make_app, settle, until, db, services, clock, notifications
):
    Path(os.environ["CRM_TUI_CONFIG_DIR"]).mkdir(parents=True, exist_ok=True)
    (Path(os.environ["CRM_TUI_CONFIG_DIR"]) / "settings.json").write_text(json.dumps({"bell": True}))
    acme = services.create_customer(name="Acme")
    services.add_task("Old overdue call", kind="call", due_at=clock.now - dt.timedelta(hours=1))
    call = services.add_task("Call Anna", kind="call", customer_id=acme.id, due_at=clock.now + dt.timedelta(minutes=10))
    Services(db, user="bob", clock=clock).add_task("Bob's call", due_at=clock.now + dt.timedelta(minutes=8))
    app = make_app("customers")
    seen = notifications(app)
    bells = []
    app.bell = lambda: bells.append(1)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.check_reminders()
        await settle(app, pilot)
        assert not seen.said("Coming up") and not seen.said("Call")  # nothing within five minutes yet
        clock.advance(minutes=6)  # 4 minutes before the call
        app.check_reminders()
        await until(pilot, lambda: seen.said("Call at 14:40: Call Anna (Acme)"), what="the reminder")
        assert bells == [1]
        app.check_reminders()
        await settle(app, pilot)
        assert sum("Call Anna" in t for t in seen.texts()) == 1  # once
        assert not seen.said("Bob's call") and not seen.said("Old overdue call")
        services.snooze_task(call.id, until=clock.now + dt.timedelta(minutes=3))
        app.check_reminders()
        await until(pilot, lambda: sum("Call Anna" in t for t in seen.texts()) == 2, what="the snoozed reminder")
