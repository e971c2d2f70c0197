"""Two reps on one PostgreSQL database: a stage move made in one app appears on
the other's open board within about two seconds, without anyone pressing a key."""

from __future__ import annotations

from crm_tui.db import Database
from crm_tui.models import Deal, Stage


def _header_counts(app) -> dict[str, int]:
    board = app.screen.board
    return {stage.name: board.headers[stage.id].count for stage in board.stages}


async def test_a_stage_move_in_one_app_appears_in_the_other_within_two_seconds(pg_db_url, clock, settle, until):
    from crm_tui.services import Services
    from crm_tui.tui.app import create_app

    seed = Database.open(pg_db_url)
    deal = Services(seed, user="ann", clock=clock).create_deal("Shared deal", amount="1000")
    seed.close()
    ann = create_app(db=pg_db_url, poll=True, user="ann", clock=clock, initial_mode="pipeline")
    bob = create_app(db=pg_db_url, poll=True, user="bob", clock=clock, initial_mode="pipeline")
    async with ann.run_test(size=(120, 40)) as ann_pilot, bob.run_test(size=(120, 40)) as bob_pilot:
        for app, pilot in ((ann, ann_pilot), (bob, bob_pilot)):
            await until(pilot, lambda app=app: app.screen.board is not None, what=f"{app.user}'s board")
        assert _header_counts(bob)["Lead"] == 1
        await ann_pilot.press("shift+right")  # ann moves the deal on her board
        await settle(ann, ann_pilot)
        assert _header_counts(ann)["Qualified"] == 1
        # polling every 0.5 s: 2.5 s leaves room for a loaded CI machine
        await until(
            bob_pilot,
            lambda: _header_counts(bob).get("Qualified") == 1 and _header_counts(bob)["Lead"] == 0,
            timeout=2.5,
            what=lambda: f"the move on bob's board; it shows {_header_counts(bob)}",
        )
        with bob.db.read() as session:
            assert session.get(Stage, session.get(Deal, deal.id).stage_id).name == "Qualified"
