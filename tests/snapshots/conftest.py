"""Snapshot helpers shared by the screen snapshots (TUI helpers add to this file)."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def settled():
    """``run_before=settled(*keys)``: wait for the database and every worker, press keys, wait again."""

    def make(*keys: str):
        async def quiet(pilot) -> None:
            app = pilot.app
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            # a form gives focus once the keys of its burst are in (tui.modals.early_keys)
            deadline = time.monotonic() + 5
            while not getattr(app.screen, "caught_up", True):
                assert time.monotonic() < deadline, "the form never took focus"
                await pilot.pause(0.01)
            await pilot.pause()

        async def run_before(pilot) -> None:
            await quiet(pilot)
            for key in keys:
                await pilot.press(key)
                await quiet(pilot)

        return run_before

    return make
