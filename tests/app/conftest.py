"""Pilot-test helpers shared by the screen tests (TUI helpers add to this file)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from textual.worker import WorkerState


async def _workers_ended(app) -> None:
    """Until every worker the app has now has ended. One that failed has ended too: the app
    shows the failure, and the test checks what it showed (``wait_for_complete`` would raise)."""
    await asyncio.gather(
        *(worker.wait() for worker in app.workers if worker.state != WorkerState.PENDING), return_exceptions=True
    )


async def _settle(app, pilot, rounds: int = 3) -> None:
    for _ in range(rounds):
        await _workers_ended(app)
        await pilot.pause()


@pytest.fixture
def settle():
    """``await settle(app, pilot)``: let thread workers finish and their results reach the widgets."""
    return _settle


async def _until(
    pilot,
    condition: Callable[[], object],
    *,
    timeout: float = 10.0,
    what: str | Callable[[], str] = "",
    workers: bool = True,
) -> None:
    """Wait until ``condition()`` is true, letting the app run; fail loudly after ``timeout`` s,
    saying ``what`` was awaited (a callable: called then, to show the state at the time).

    ``workers=False`` when a worker is held on purpose: the app still runs, its workers are
    not waited for."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            pytest.fail(f"waited {timeout:g} s for {described or getattr(condition, '__name__', 'a condition')}")
        if workers:
            await _workers_ended(pilot.app)
        await pilot.pause(0.01)  # a polling interval, not a wait for anything in particular


@pytest.fixture
def until():
    """``await until(pilot, lambda: ..., what="the board")``: wait on a condition, not a clock."""
    return _until


async def _opened(pilot, screen: str, *, timeout: float = 10.0):
    """Wait until the screen called ``screen`` is on top and takes keys; return it.

    A form or dialog opened by a key gives focus only once the keys typed with that key are in
    (``tui.modals.early_keys``): keys pressed before then are held and replayed later, after a
    test that went on at once has already looked."""
    app = pilot.app

    def ready() -> bool:
        return type(app.screen).__name__ == screen and getattr(app.screen, "caught_up", True)

    await _until(pilot, ready, timeout=timeout, what=lambda: f"{screen} ready for keys (on top: {app.screen!r})")
    return app.screen


@pytest.fixture
def opened():
    """``form = await opened(pilot, "CustomerForm")`` after the key that opens it."""
    return _opened


def _palette_hits(app) -> tuple[list[str], str | None]:
    """The command palette's hits as text, and the highlighted one (what enter runs)."""
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    if not isinstance(app.screen, CommandPalette):
        return [], None
    hits = app.screen.query_one(OptionList)
    texts = [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]
    chosen = hits.highlighted_option
    return texts, None if chosen is None else str(chosen.prompt)


async def _palette(pilot, query: str, *, offers: str | None = None, first: bool = True) -> list[str]:
    """Open the command palette, type ``query`` and wait until it offers ``offers`` (default:
    the query) — as the highlighted hit that enter would run, or with ``first=False`` anywhere
    in the list. Returns every hit's text."""
    from textual.command import CommandPalette
    from textual.widgets import Input

    app = pilot.app
    await pilot.press("ctrl+p")
    await _until(
        pilot,
        lambda: isinstance(app.screen, CommandPalette) and app.screen.query_one(Input).has_focus,
        what="the command palette to open",
    )
    await pilot.press(*query)
    wanted = query if offers is None else offers

    def offered() -> bool:
        texts, chosen = _palette_hits(app)
        return wanted in (chosen or "") if first else any(wanted in text for text in texts)

    shows = lambda: f"the palette to offer {wanted!r} for {query!r}; it shows {_palette_hits(app)}"  # noqa: E731
    await _until(pilot, offered, what=shows)
    return _palette_hits(app)[0]


@pytest.fixture
def palette():
    """``await palette(pilot, "Go to Reports")``: ctrl+p, type, wait until the hit is offered."""
    return _palette


class Notifications(list):
    """Every message the app showed (``app.notify``), recorded through the public method."""

    def texts(self) -> list[str]:
        return [str(message) for message, _kw in self]

    def said(self, fragment: str) -> bool:
        return any(fragment in text for text in self.texts())

    def titled(self, title: str) -> list[str]:
        """The messages shown under ``title`` (e.g. "Privacy")."""
        return [str(message) for message, kw in self if kw.get("title") == title]


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
