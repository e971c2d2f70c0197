"""Pilot-test helpers shared by the screen tests (TUI helpers add to this file)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


async def _settle(app, pilot, rounds: int = 3) -> None:
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()


@pytest.fixture
def settle():
    """``await settle(app, pilot)``: let thread workers finish and their results reach the widgets."""
    return _settle


async def _until(pilot, condition: Callable[[], object], *, timeout: float = 10.0, what: str = "") -> None:
    """Wait until ``condition()`` is true, letting the app run; fail loudly after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what or getattr(condition, '__name__', 'a condition')}")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.01)


@pytest.fixture
def until():
    """``await until(pilot, lambda: ..., what="the board")``: wait on a condition, not a clock."""
    return _until


class Notifications(list):
    """Every message the app showed (``app.notify``), recorded through the public method."""

    def texts(self) -> list[str]:
        return [str(message) for message, _kw in self]

    def said(self, fragment: str) -> bool:
        return any(fragment in text for text in self.texts())


@pytest.fixture
def notifications():
    """``seen = notifications(app)`` before ``run_test``: what the app told the rep, in order."""

    def record(app) -> Notifications:
        seen = Notifications()
        original = app.notify

        def notify(message, **kwargs):
            seen.append((message, kwargs))
            return original(message, **kwargs)

        app.notify = notify
        return seen

    return record


@pytest.fixture
def make_app(db, clock):
    """``make_app(mode)`` → a CrmApp on the test database, frozen clock, no polling."""
    from crm_tui.tui.app import create_app

    def make(initial_mode: str = "customers", **kwargs):
        kwargs.setdefault("poll", False)
        return create_app(db=db, clock=clock, user="ann", initial_mode=initial_mode, **kwargs)

    return make
