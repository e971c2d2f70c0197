"""Snapshot helpers shared by the screen snapshots (TUI helpers add to this file)."""

from __future__ import annotations

import pytest


@pytest.fixture
def settled():
    """``run_before=settled(*keys)``: wait for the database and every worker, press keys, wait again."""

    def make(*keys: str):
        async def run_before(pilot) -> None:
            app = pilot.app
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            for key in keys:
                await pilot.press(key)
                for _ in range(3):
                    await app.workers.wait_for_complete()
                    await pilot.pause()

        return run_before

    return make
