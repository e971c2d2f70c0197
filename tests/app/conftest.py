"""Pilot-test helpers shared by the screen tests (TUI helpers add to this file)."""

from __future__ import annotations

import pytest


async def _settle(app, pilot, rounds: int = 3) -> None:
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()


@pytest.fixture
def settle():
    """``await settle(app, pilot)``: let thread workers finish and their results reach the widgets."""
    return _settle


@pytest.fixture
def make_app(db, clock):
    """``make_app(mode)`` → a CrmApp on the test database, frozen clock, no polling."""
    from crm_tui.tui.app import create_app

    def make(initial_mode: str = "customers", **kwargs):
        kwargs.setdefault("poll", False)
        return create_app(db=db, clock=clock, user="ann", initial_mode=initial_mode, **kwargs)

    return make
