"""Helpers for Pilot tests of the forms: keys sent in one burst, what a widget shows, a wait while a worker is held."""

from __future__ import annotations

import asyncio
import time
import unicodedata
from collections.abc import Callable

from textual import events
from textual.keys import key_to_character

_NAMES = {
    "solidus": "slash",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "commercial_at": "at",
    "low_line": "underscore",
}


async def wait_for(predicate: Callable[[], object], what: str, *, timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it is true; fail naming ``what`` after ``timeout`` seconds.

    Only for waiting while a worker is held on purpose: the ``until`` fixture (tests/app/conftest.py)
    lets workers finish on every round, which would wait for the held one.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for: {what}")
        await asyncio.sleep(0.01)


def key_event(key: str) -> events.Key:
    """A Key event as the terminal driver builds it: ``"A"``, ``"+"``, ``"space"``, ``"ctrl+s"``."""
    if len(key) == 1:
        if key.isalnum():
            return events.Key(key, key)
        name = unicodedata.name(key).lower().replace("-", "_").replace(" ", "_")
        return events.Key(_NAMES.get(name, name), key)
    return events.Key(key, key_to_character(key))


def burst(app, *keys: str) -> None:
    """Queue ``keys`` for the app all at once, as one read from an SSH session delivers them.

    ``pilot.press`` waits for the app to go idle after every key, so a modal opened by
    the first key is already up when the second arrives; a real burst does not wait.
    """
    for key in keys:
        app.post_message(key_event(key))


def text_of(widget) -> str:
    """What a Static/Label shows, as plain text."""
    return str(widget.render())
