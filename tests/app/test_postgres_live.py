"""Two reps on one PostgreSQL database: a stage move made in one app appears on
the other's open board within about two seconds, without anyone pressing a key."""

from __future__ import annotations

import time

from crm_tui.db import Database
from crm_tui.models import Deal, Stage


def _header_counts(app) -> dict[str, int]:
    board = app.screen.board
    return {stage.name: board.headers[stage.id].count for stage in board.stages}


async def _wait_for(app, pilot, predicate, seconds: float) -> None:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        await pilot.pause(0.1)
        await app.workers.wait_for_complete()
        await pilot.pause()
        if predicate():
            return
    raise AssertionError(f"not seen within {seconds} s: {_header_counts(app)}")


async def test_a_stage_move_in_one_app_appears_in_the_other_within_two_seconds(pg_db_url, clock, settle):
    from crm_tui.services import Services
    from crm_tui.tui.app import create_app

    seed = Database.open(pg_db_url)
    deal = Services(seed, user="ann", clock=clock).create_deal("Shared deal", amount="1000")
    seed.close()
    ann = create_app(db=pg_db_url, poll=True, user="ann", clock=clock, initial_mode="pipeline")
    bob = create_app(db=pg_db_url, poll=True, user="bob", clock=clock, initial_mode="pipeline")
    async with ann.run_test(size=(120, 40)) as ann_pilot, bob.run_test(size=(120, 40)) as bob_pilot:
        await settle(ann, ann_pilot)
        await settle(bob, bob_pilot)
        assert _header_counts(bob)["Lead"] == 1
        await ann_pilot.press("shift+right")  # ann moves the deal on her board
        await settle(ann, ann_pilot)
        assert _header_counts(ann)["Qualified"] == 1
        # polling every 0.5 s: 2.5 s leaves room for a loaded CI machine
        await _wait_for(
            bob, bob_pilot, lambda: _header_counts(bob).get("Qualified") == 1 and _header_counts(bob)["Lead"] == 0, 2.5
        )
        with bob.db.read() as session:
            assert session.get(Stage, session.get(Deal, deal.id).stage_id).name == "Qualified"
